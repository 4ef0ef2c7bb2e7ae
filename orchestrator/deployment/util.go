package deployment

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/labels"
)

// Annotations the controller keeps on ReplicaSets, beside api.AnnotationRevision.
const (
	// AnnotationComplete ("true") marks a ReplicaSet whose rollout once
	// finished: every replica updated and available. Auto-rollback only ever
	// returns to such a revision. A mini-deploy extension.
	AnnotationComplete = "mini-deploy.io/complete"

	// The Deployment's replicas, and replicas plus surge, when the
	// ReplicaSet was last sized: proportional scaling reads them to split a
	// change of replicas among the ReplicaSets of an unfinished rollout.
	annotationDesiredReplicas = "deployment.kubernetes.io/desired-replicas"
	annotationMaxReplicas     = "deployment.kubernetes.io/max-replicas"
	// Earlier revisions of a ReplicaSet that was rolled back to.
	annotationRevisionHistory = "deployment.kubernetes.io/revision-history"

	annotationLastApplied = "kubectl.kubernetes.io/last-applied-configuration"

	// maxRevisionHistoryChars bounds annotationRevisionHistory, as Kubernetes
	// does (about a hundred revisions).
	maxRevisionHistoryChars = 2000
)

// skipAnnotations are never copied from a Deployment to its ReplicaSets, nor
// from a ReplicaSet back to its Deployment on rollback: they describe one
// object, not the revision.
var skipAnnotations = map[string]bool{
	annotationLastApplied:     true,
	api.AnnotationRevision:    true,
	annotationRevisionHistory: true,
	annotationDesiredReplicas: true,
	annotationMaxReplicas:     true,
	AnnotationComplete:        true,
}

// Condition statuses, types and reasons the api package does not name.
const (
	condTrue    = "True"
	condFalse   = "False"
	condUnknown = "Unknown"

	condReplicaFailure   = "ReplicaFailure"
	reasonFailedRSCreate = "ReplicaSetCreateError"

	eventScaling = "ScalingReplicaSet"
)

// Spec accessors. Stored Deployments are defaulted by the API layer; these
// fall back to Kubernetes' defaults anyway, so the controller never writes a
// defaulted spec back (which would bump the generation).

func replicasOf(d *api.Deployment) int32 {
	return api.Replicas(d.Spec.Replicas)
}

func rsReplicas(rs *api.ReplicaSet) int32 {
	return api.Replicas(rs.Spec.Replicas)
}

func setRSReplicas(rs *api.ReplicaSet, n int32) { rs.Spec.Replicas = &n }

func isRollingUpdate(d *api.Deployment) bool {
	return d.Spec.Strategy.Type == "" || d.Spec.Strategy.Type == api.RollingUpdateDeploymentStrategyType
}

// progressDeadline reports the deadline and whether there is one: Kubernetes
// treats MaxInt32 as "never".
func progressDeadline(d *api.Deployment) (int32, bool) {
	if d.Spec.ProgressDeadlineSeconds == nil {
		return api.DefaultProgressDeadlineSeconds, true
	}
	s := *d.Spec.ProgressDeadlineSeconds
	return s, s != math.MaxInt32
}

func hasProgressDeadline(d *api.Deployment) bool {
	_, ok := progressDeadline(d)
	return ok
}

func revisionHistoryLimit(d *api.Deployment) (int32, bool) {
	if d.Spec.RevisionHistoryLimit == nil {
		return api.DefaultRevisionHistoryLimit, true
	}
	n := *d.Spec.RevisionHistoryLimit
	return n, n != math.MaxInt32
}

// rollingParams returns maxSurge and maxUnavailable with their defaults.
func rollingParams(d *api.Deployment) (surge, unavailable *api.IntOrString) {
	s, u := api.FromString(api.DefaultMaxSurge), api.FromString(api.DefaultMaxUnavailable)
	surge, unavailable = &s, &u
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			surge = ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			unavailable = ru.MaxUnavailable
		}
	}
	return surge, unavailable
}

func fenceposts(d *api.Deployment) (surge, unavailable int32, err error) {
	s, u := rollingParams(d)
	return api.ResolveFenceposts(s, u, replicasOf(d))
}

// maxSurge is how many pods above replicas a rolling update may run. An
// invalid value counts as 0, as in Kubernetes; syncDeployment refuses such a
// spec before it gets here.
func maxSurge(d *api.Deployment) int32 {
	if !isRollingUpdate(d) {
		return 0
	}
	s, _, _ := fenceposts(d)
	return s
}

// maxUnavailable is how many of replicas may be unavailable during a
// rolling update; never more than replicas.
func maxUnavailable(d *api.Deployment) int32 {
	if !isRollingUpdate(d) || replicasOf(d) == 0 {
		return 0
	}
	_, u, _ := fenceposts(d)
	return min(u, replicasOf(d))
}

// sum counts f over a set of ReplicaSets, which may hold a nil new one.
func sum(rss []*api.ReplicaSet, f func(*api.ReplicaSet) int32) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += f(rs)
		}
	}
	return n
}

func sumSpec(rss []*api.ReplicaSet) int32 { return sum(rss, rsReplicas) }

// sumPods counts, for each ReplicaSet, the larger of the pods it should
// have and the pods it still has. Kubernetes surges against spec alone, so a
// new pod can start while an old one its ReplicaSet was just told to drop is
// still counted running; counting what still runs keeps the surge a bound on
// real pods.
func sumPods(rss []*api.ReplicaSet) int32 {
	return sum(rss, func(rs *api.ReplicaSet) int32 { return max(rsReplicas(rs), rs.Status.Replicas) })
}

func sumStatus(rss []*api.ReplicaSet) int32 {
	return sum(rss, func(rs *api.ReplicaSet) int32 { return rs.Status.Replicas })
}

func sumReady(rss []*api.ReplicaSet) int32 {
	return sum(rss, func(rs *api.ReplicaSet) int32 { return rs.Status.ReadyReplicas })
}

func sumAvailable(rss []*api.ReplicaSet) int32 {
	return sum(rss, func(rs *api.ReplicaSet) int32 { return rs.Status.AvailableReplicas })
}

// active drops nil and scaled-to-zero ReplicaSets.
func active(rss []*api.ReplicaSet) []*api.ReplicaSet {
	var out []*api.ReplicaSet
	for _, rs := range rss {
		if rs != nil && rsReplicas(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// withNew returns old plus newRS in a fresh slice, so appending never writes
// into a caller's backing array.
func withNew(old []*api.ReplicaSet, newRS *api.ReplicaSet) []*api.ReplicaSet {
	out := make([]*api.ReplicaSet, 0, len(old)+1)
	out = append(out, old...)
	return append(out, newRS)
}

// Orderings, with Kubernetes' tie-breaks: creation time, then name.

func compareCreated(a, b *api.ReplicaSet) int {
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

func sortOldestFirst(rss []*api.ReplicaSet) { slices.SortStableFunc(rss, compareCreated) }

func sortNewestFirst(rss []*api.ReplicaSet) {
	slices.SortStableFunc(rss, func(a, b *api.ReplicaSet) int { return compareCreated(b, a) })
}

// sortBySizeNewer puts the largest first and, among equals, the newest:
// scaling up favours the newer ReplicaSets.
func sortBySizeNewer(rss []*api.ReplicaSet) {
	slices.SortStableFunc(rss, func(a, b *api.ReplicaSet) int {
		if c := cmp.Compare(rsReplicas(b), rsReplicas(a)); c != 0 {
			return c
		}
		return compareCreated(b, a)
	})
}

// sortBySizeOlder puts the largest first and, among equals, the oldest:
// scaling down takes from the older ReplicaSets first.
func sortBySizeOlder(rss []*api.ReplicaSet) {
	slices.SortStableFunc(rss, func(a, b *api.ReplicaSet) int {
		if c := cmp.Compare(rsReplicas(b), rsReplicas(a)); c != 0 {
			return c
		}
		return compareCreated(a, b)
	})
}

func sortByRevision(rss []*api.ReplicaSet) {
	slices.SortStableFunc(rss, func(a, b *api.ReplicaSet) int {
		if c := cmp.Compare(revisionOf(a), revisionOf(b)); c != 0 {
			return c
		}
		return compareCreated(a, b)
	})
}

// revision parses a ReplicaSet's revision annotation.
func revision(rs *api.ReplicaSet) (int64, error) {
	v, ok := rs.Annotations[api.AnnotationRevision]
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

// revisionOf is revision with an unreadable annotation counting as 0.
func revisionOf(rs *api.ReplicaSet) int64 {
	v, err := revision(rs)
	if err != nil {
		return 0
	}
	return v
}

func maxRevision(rss []*api.ReplicaSet) int64 {
	var m int64
	for _, rs := range rss {
		if rs != nil {
			m = max(m, revisionOf(rs))
		}
	}
	return m
}

// Ownership.

func controllerOf(m *api.ObjectMeta) *api.OwnerReference {
	for i := range m.OwnerReferences {
		if r := &m.OwnerReferences[i]; r.Controller != nil && *r.Controller {
			return r
		}
	}
	return nil
}

func ownerRef(d *api.Deployment) api.OwnerReference {
	yes := true
	return api.OwnerReference{APIVersion: "apps/v1", Kind: api.KindDeployment, Name: d.Name, UID: d.UID, Controller: &yes}
}

func ownedBy(rs *api.ReplicaSet, d *api.Deployment) bool {
	ref := controllerOf(&rs.ObjectMeta)
	return ref != nil && ref.UID == d.UID
}

// selectsEverything reports a selector that would claim every pod in the
// namespace, which Kubernetes refuses to act on.
func selectsEverything(sel *api.LabelSelector) bool {
	return sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0)
}

func selectorOf(d *api.Deployment) (labels.Selector, error) {
	sel, err := labels.SelectorFromLabelSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %q: %w", d.Name, err)
	}
	return sel, nil
}

// Templates.

// equalIgnoreHash compares two pod templates as a Deployment and its
// ReplicaSets see them: the ReplicaSet's copy carries pod-template-hash.
// JSON is the comparison because it is what the store keeps, so a nil map and
// an empty one compare equal, as they would after a round trip.
func equalIgnoreHash(a, b *api.PodTemplateSpec) bool {
	return templateKey(a) == templateKey(b)
}

func templateKey(t *api.PodTemplateSpec) string {
	c := *t
	c.Labels = withoutLabel(t.Labels, api.LabelPodTemplateHash)
	b, err := json.Marshal(&c)
	if err != nil {
		panic("pod template: " + err.Error())
	}
	return string(b)
}

func withoutLabel(m map[string]string, key string) map[string]string {
	if _, ok := m[key]; !ok {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func withLabel(m map[string]string, key, value string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	out[key] = value
	return out
}

// selectorWithHash adds pod-template-hash to a copy of sel, so that each
// ReplicaSet selects only its own pods.
func selectorWithHash(sel *api.LabelSelector, hash string) *api.LabelSelector {
	out := &api.LabelSelector{MatchLabels: withLabel(nil, api.LabelPodTemplateHash, hash)}
	if sel != nil {
		out.MatchLabels = withLabel(sel.MatchLabels, api.LabelPodTemplateHash, hash)
		out.MatchExpressions = slices.Clone(sel.MatchExpressions)
	}
	return out
}

// Conditions.

func getCondition(s *api.DeploymentStatus, typ string) *api.Condition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == typ {
			return &s.Conditions[i]
		}
	}
	return nil
}

func newCondition(now api.Time, typ, status, reason, message string) api.Condition {
	return api.Condition{Type: typ, Status: status, LastUpdateTime: now, LastTransitionTime: now, Reason: reason, Message: message}
}

// setCondition records c unless a condition with the same status and reason
// is already there: repeating a reason neither refreshes the message nor the
// time. A change of reason within one status keeps the transition time.
func setCondition(s *api.DeploymentStatus, c api.Condition) {
	cur := getCondition(s, c.Type)
	if cur != nil && cur.Status == c.Status && cur.Reason == c.Reason {
		return
	}
	if cur != nil && cur.Status == c.Status {
		c.LastTransitionTime = cur.LastTransitionTime
	}
	removeCondition(s, c.Type)
	s.Conditions = append(s.Conditions, c)
}

func removeCondition(s *api.DeploymentStatus, typ string) {
	s.Conditions = slices.DeleteFunc(s.Conditions, func(c api.Condition) bool { return c.Type == typ })
}
