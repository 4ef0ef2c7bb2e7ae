// Package labels is how mini-deploy decides which pods belong to whom.
//
// A ReplicationController owns the pods whose labels match its selector; a
// Service sends traffic to the ready pods matching its own; the seed's
// blue/green switch is nothing more than `set selector svc kubia app=kubia-v2`.
// Everything that ties one object to another goes through a Selector, so the
// rules here are Kubernetes' rules, case for case: a selector is a list of
// requirements that must all hold (`app=kubia,tier!=db,env in (a,b),!canary`),
// a requirement on a missing label holds for != and notin and fails for = and
// in, the empty selector matches every set of labels, and a nil set-based
// selector matches none, because a controller with no selector must never
// adopt every container on the host.
//
// The package is written for mini-deploy rather than imported from
// k8s.io/apimachinery, whose labels package drags in most of the apimachinery
// module for a few hundred lines of logic.
//
// Where a change goes: the selector syntax (kubectl's -l and the set-based
// forms) is parse.go; what a requirement and a selector match is selector.go.
package labels

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Selector picks label sets.
type Selector interface {
	// Matches reports whether set satisfies every requirement.
	Matches(set map[string]string) bool
	// String prints the selector in the form Parse reads back.
	String() string
	// Empty reports whether the selector has no requirements and so matches
	// everything.
	Empty() bool
}

// Operator is the relation a Requirement checks.
type Operator string

// Operators, spelled as in the string form.
const (
	Equals       Operator = "="
	DoubleEquals Operator = "=="
	NotEquals    Operator = "!="
	In           Operator = "in"
	NotIn        Operator = "notin"
	Exists       Operator = "exists"
	DoesNotExist Operator = "!"
)

// Requirement is one condition on one label key.
type Requirement struct {
	key    string
	op     Operator
	values []string // sorted, unique
}

// NewRequirement checks and builds one requirement. In and NotIn need at
// least one value, the equality operators exactly one, Exists and
// DoesNotExist none.
func NewRequirement(key string, op Operator, values []string) (Requirement, error) {
	var errs []error
	if err := ValidateKey(key); err != nil {
		errs = append(errs, err)
	}
	switch op {
	case In, NotIn:
		if len(values) == 0 {
			errs = append(errs, errors.New("for 'in', 'notin' operators, values set can't be empty"))
		}
	case Equals, DoubleEquals, NotEquals:
		if len(values) != 1 {
			errs = append(errs, errors.New("exact-match compatibility requires one single value"))
		}
	case Exists, DoesNotExist:
		if len(values) != 0 {
			errs = append(errs, errors.New("values set must be empty for exists and does not exist"))
		}
	default:
		errs = append(errs, fmt.Errorf("operator %q is not recognized", op))
	}
	for _, v := range values {
		if err := ValidateValue(key, v); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return Requirement{}, joinErrors(errs)
	}
	vals := slices.Clone(values)
	slices.Sort(vals)
	return Requirement{key: key, op: op, values: slices.Compact(vals)}, nil
}

// Key is the label key the requirement is about.
func (r Requirement) Key() string { return r.key }

// Operator is the relation checked.
func (r Requirement) Operator() Operator { return r.op }

// Values are the values compared against, sorted.
func (r Requirement) Values() []string { return slices.Clone(r.values) }

// Matches reports whether set satisfies r. A missing key fails = and in but
// satisfies != and notin: "not db" includes "no tier at all".
func (r Requirement) Matches(set map[string]string) bool {
	v, ok := set[r.key]
	switch r.op {
	case Equals, DoubleEquals, In:
		return ok && slices.Contains(r.values, v)
	case NotEquals, NotIn:
		return !ok || !slices.Contains(r.values, v)
	case Exists:
		return ok
	case DoesNotExist:
		return !ok
	}
	return false
}

// String prints r as Parse reads it.
func (r Requirement) String() string {
	switch r.op {
	case Exists:
		return r.key
	case DoesNotExist:
		return "!" + r.key
	case In, NotIn:
		return r.key + " " + string(r.op) + " (" + strings.Join(r.values, ",") + ")"
	}
	return r.key + string(r.op) + r.values[0]
}

// requirements is a selector: every requirement must hold. It is kept
// sorted by key so that String is stable and two equal selectors print alike.
type requirements []Requirement

func (s requirements) Matches(set map[string]string) bool {
	for _, r := range s {
		if !r.Matches(set) {
			return false
		}
	}
	return true
}

func (s requirements) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

func (s requirements) Empty() bool { return len(s) == 0 }

func newSelector(reqs []Requirement) Selector {
	slices.SortStableFunc(reqs, func(a, b Requirement) int { return strings.Compare(a.key, b.key) })
	return requirements(reqs)
}

// nothing is what a nil set-based selector means: no pod is selected.
type nothing struct{}

func (nothing) Matches(map[string]string) bool { return false }

// String is empty, as Kubernetes prints it; callers that show selectors to
// users print "<none>" for it themselves.
func (nothing) String() string { return "" }
func (nothing) Empty() bool    { return false }

// Everything returns the selector that matches every label set.
func Everything() Selector { return requirements(nil) }

// Nothing returns the selector that matches no label set.
func Nothing() Selector { return nothing{} }

// SelectorFromSet returns the equality selector for a map, the form of a
// ReplicationController's and a Service's selector. The labels are not
// checked: they come from objects that were validated when stored. An empty
// or nil map selects everything, as in Kubernetes.
func SelectorFromSet(set map[string]string) Selector {
	reqs := make([]Requirement, 0, len(set))
	for k, v := range set {
		reqs = append(reqs, Requirement{key: k, op: Equals, values: []string{v}})
	}
	return newSelector(reqs)
}

// ValidatedSelectorFromSet is SelectorFromSet for labels a user just typed.
func ValidatedSelectorFromSet(set map[string]string) (Selector, error) {
	reqs := make([]Requirement, 0, len(set))
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(set)) {
		r, err := NewRequirement(k, Equals, []string{set[k]})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		reqs = append(reqs, r)
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	return newSelector(reqs), nil
}

// SelectorFromLabelSelector turns a ReplicaSet's or Deployment's set-based
// selector into a Selector. A nil selector selects nothing and an empty one
// everything, as Kubernetes' LabelSelectorAsSelector has it; an invalid one is
// an error, checked by the same rules api.Validate applies to manifests.
func SelectorFromLabelSelector(sel *api.LabelSelector) (Selector, error) {
	if sel == nil {
		return Nothing(), nil
	}
	if fes := api.ValidateLabelSelector(sel, ""); len(fes) > 0 {
		msgs := make([]string, len(fes))
		for i, fe := range fes {
			msgs[i] = fe.Error()
		}
		return nil, fmt.Errorf("invalid label selector: %s", strings.Join(msgs, "; "))
	}
	reqs := make([]Requirement, 0, len(sel.MatchLabels)+len(sel.MatchExpressions))
	for _, k := range slices.Sorted(maps.Keys(sel.MatchLabels)) {
		reqs = append(reqs, Requirement{key: k, op: Equals, values: []string{sel.MatchLabels[k]}})
	}
	for _, e := range sel.MatchExpressions {
		op := map[string]Operator{
			api.LabelSelectorOpIn:           In,
			api.LabelSelectorOpNotIn:        NotIn,
			api.LabelSelectorOpExists:       Exists,
			api.LabelSelectorOpDoesNotExist: DoesNotExist,
		}[e.Operator]
		r, err := NewRequirement(e.Key, op, e.Values)
		if err != nil {
			return nil, fmt.Errorf("invalid label selector: %w", err)
		}
		reqs = append(reqs, r)
	}
	return newSelector(reqs), nil
}

// ValidateKey checks a label key: an optional DNS subdomain prefix and '/',
// then a name of at most 63 alphanumerics, '-', '_' or '.'.
func ValidateKey(k string) error {
	if errs := api.IsQualifiedName(k); len(errs) > 0 {
		return fmt.Errorf("invalid label key %q: %s", k, strings.Join(errs, "; "))
	}
	return nil
}

// ValidateValue checks the value v of label k: at most 63 alphanumerics,
// '-', '_' or '.', or empty.
func ValidateValue(k, v string) error {
	if errs := api.IsValidLabelValue(v); len(errs) > 0 {
		return fmt.Errorf("invalid label value: %q: at key: %q: %s", v, k, strings.Join(errs, "; "))
	}
	return nil
}

// FormatLabels prints a label set as kubectl's LABELS column does:
// sorted k=v pairs, or <none>.
func FormatLabels(set map[string]string) string {
	if len(set) == 0 {
		return "<none>"
	}
	parts := make([]string, 0, len(set))
	for _, k := range slices.Sorted(maps.Keys(set)) {
		parts = append(parts, k+"="+set[k])
	}
	return strings.Join(parts, ",")
}

// joinErrors keeps a one-line message, which errors.Join would not.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}
