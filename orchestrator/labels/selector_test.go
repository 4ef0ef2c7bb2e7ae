package labels

import (
	"strings"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

func TestParseRoundTrip(t *testing.T) {
	// Each input parses, and prints back in canonical form: sorted by key,
	// spaces dropped, set values sorted and deduplicated.
	tests := []struct{ in, want string }{
		{"", ""},
		{"   ", ""},
		{"app=kubia", "app=kubia"},
		{"app==kubia", "app==kubia"},
		{"tier!=db", "tier!=db"},
		{"app=kubia,tier!=db", "app=kubia,tier!=db"},
		{"tier!=db,app=kubia", "app=kubia,tier!=db"},
		{" app = kubia , tier != db ", "app=kubia,tier!=db"},
		{"env in (b,a)", "env in (a,b)"},
		{"env in(a, b ,a)", "env in (a,b)"},
		{"env notin (prod)", "env notin (prod)"},
		{"canary", "canary"},
		{"!canary", "!canary"},
		{"! canary", "!canary"},
		{"x=", "x="},
		{"x= ,z= ", "x=,z="},
		{"env in ()", "env in ()"},
		{"env in (a,)", "env in (,a)"},
		{"env=in", "env=in"},
		{"in=notin", "in=notin"},
		{"example.com/tier=web,app.kubernetes.io/name=kubia", "app.kubernetes.io/name=kubia,example.com/tier=web"},
		{"app=kubia,!canary,env in (a,b),tier notin (db),track", "app=kubia,!canary,env in (a,b),tier notin (db),track"},
	}
	for _, tt := range tests {
		sel, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := sel.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		again, err := Parse(sel.String())
		if err != nil || again.String() != sel.String() {
			t.Errorf("reparse of %q: %v, %v", sel.String(), again, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"x=a||y=b", `unable to parse requirement: invalid label value: "a||y": at key: "x": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`},
		{"x==a==b", "found '==', expected: ',' or 'end of string'"},
		{"!x=a", "found '=', expected: ',' or 'end of string'"},
		{"x<a", "unable to parse requirement: found '<', expected: in, notin, =, ==, !="},
		{"x>1", "unable to parse requirement: found '>', expected: in, notin, =, ==, !="},
		{"x=a,", "found '', expected: identifier after ','"},
		{",x=a", "found ',', expected: !, identifier, or 'end of string'"},
		{"x=a,,y=b", "found ',', expected: identifier after ','"},
		{"x in (a,b", "unable to parse requirement: found '', expected: ',', ')' or identifier"},
		{"x in a", "unable to parse requirement: found 'a', expected: '('"},
		{"x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"},
		{"x in (a,=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"},
		{"x notin", "unable to parse requirement: found '', expected: '('"},
		{"x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !="},
		{"x=(a)", "unable to parse requirement: found '(', expected: identifier"},
		{"!", "unable to parse requirement: found '', expected: identifier"},
		{"(", "found '(', expected: !, identifier, or 'end of string'"},
		{"a b=c", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !="},
		{"a/b/c=d", `unable to parse requirement: invalid label key "a/b/c": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`},
		{"-app=kubia", `unable to parse requirement: invalid label key "-app": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`},
		{"app=" + strings.Repeat("v", 64), `unable to parse requirement: invalid label value: "` + strings.Repeat("v", 64) + `": at key: "app": must be no more than 63 characters`},
		{"app in (ok,-bad)", `unable to parse requirement: invalid label value: "-bad": at key: "app": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`},
	}
	for _, tt := range tests {
		sel, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) = %q, want error %q", tt.in, sel, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q) error:\n got %s\nwant %s", tt.in, err, tt.want)
		}
	}
}

func TestMatches(t *testing.T) {
	kubia := map[string]string{"app": "kubia", "tier": "web", "env": "prod"}
	tests := []struct {
		sel    string
		labels map[string]string
		want   bool
	}{
		{"", kubia, true},
		{"", nil, true},
		{"app=kubia", kubia, true},
		{"app==kubia", kubia, true},
		{"app=kubia-v2", kubia, false},
		{"app=kubia", nil, false},
		{"app=kubia,tier=web", kubia, true},
		{"app=kubia,tier=db", kubia, false},
		{"tier!=db", kubia, true},
		{"tier!=web", kubia, false},
		{"tier!=db", map[string]string{"app": "kubia"}, true}, // a missing key is "not db"
		{"env in (prod,staging)", kubia, true},
		{"env in (staging)", kubia, false},
		{"env in (prod)", map[string]string{}, false},
		{"env notin (staging)", kubia, true},
		{"env notin (prod,staging)", kubia, false},
		{"env notin (prod)", map[string]string{}, true},
		{"canary", kubia, false},
		{"canary", map[string]string{"canary": ""}, true},
		{"!canary", kubia, true},
		{"!canary", map[string]string{"canary": "true"}, false},
		{"app", kubia, true},
		{"x=", map[string]string{"x": ""}, true},
		{"x=", map[string]string{}, false},
		{"x in ()", map[string]string{"x": ""}, true},
		{"app=kubia,!canary,env in (prod),tier notin (db)", kubia, true},
	}
	for _, tt := range tests {
		sel, err := Parse(tt.sel)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.sel, err)
		}
		if got := sel.Matches(tt.labels); got != tt.want {
			t.Errorf("%q.Matches(%v) = %v, want %v", tt.sel, tt.labels, got, tt.want)
		}
	}
}

func TestEverythingNothingAndSets(t *testing.T) {
	labels := map[string]string{"app": "kubia"}
	if e := Everything(); !e.Matches(labels) || !e.Matches(nil) || !e.Empty() || e.String() != "" {
		t.Errorf("Everything: %v %v %v %q", e.Matches(labels), e.Matches(nil), e.Empty(), e.String())
	}
	if n := Nothing(); n.Matches(labels) || n.Matches(nil) || n.Empty() {
		t.Errorf("Nothing: %v %v %v", n.Matches(labels), n.Matches(nil), n.Empty())
	}
	if s := SelectorFromSet(nil); !s.Empty() || !s.Matches(labels) {
		t.Error("SelectorFromSet(nil) must select everything")
	}
	s := SelectorFromSet(map[string]string{"tier": "web", "app": "kubia"})
	if s.String() != "app=kubia,tier=web" || s.Matches(labels) || !s.Matches(map[string]string{"app": "kubia", "tier": "web", "x": "y"}) {
		t.Errorf("SelectorFromSet: %s", s)
	}
	if _, err := ValidatedSelectorFromSet(map[string]string{"app": "kubia", "bad key": "x"}); err == nil {
		t.Error("ValidatedSelectorFromSet accepted a bad key")
	}
	if s, err := ValidatedSelectorFromSet(map[string]string{"app": "kubia"}); err != nil || s.String() != "app=kubia" {
		t.Errorf("ValidatedSelectorFromSet: %v %v", s, err)
	}
	if got := FormatLabels(map[string]string{"b": "2", "a": "1"}); got != "a=1,b=2" {
		t.Errorf("FormatLabels = %s", got)
	}
	if got := FormatLabels(nil); got != "<none>" {
		t.Errorf("FormatLabels(nil) = %s", got)
	}
}

func TestNewRequirement(t *testing.T) {
	tests := []struct {
		key    string
		op     Operator
		values []string
		err    string
	}{
		{"app", Equals, []string{"kubia"}, ""},
		{"app", In, []string{"b", "a", "b"}, ""},
		{"app", Exists, nil, ""},
		{"app", In, nil, "for 'in', 'notin' operators, values set can't be empty"},
		{"app", NotIn, []string{}, "for 'in', 'notin' operators, values set can't be empty"},
		{"app", Equals, []string{"a", "b"}, "exact-match compatibility requires one single value"},
		{"app", NotEquals, nil, "exact-match compatibility requires one single value"},
		{"app", DoesNotExist, []string{"a"}, "values set must be empty for exists and does not exist"},
		{"app", Operator("gt"), []string{"1"}, `operator "gt" is not recognized`},
		{"", Exists, nil, `invalid label key "": name part must be non-empty`},
	}
	for _, tt := range tests {
		r, err := NewRequirement(tt.key, tt.op, tt.values)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("NewRequirement(%q, %q, %v): %v", tt.key, tt.op, tt.values, err)
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("NewRequirement(%q, %q, %v) error = %v, want %s", tt.key, tt.op, tt.values, err, tt.err)
		}
		if err == nil && r.Key() != tt.key {
			t.Errorf("key %q", r.Key())
		}
	}
	r, _ := NewRequirement("app", In, []string{"b", "a", "b"})
	if got := strings.Join(r.Values(), ","); got != "a,b" || r.Operator() != In {
		t.Errorf("values %s op %s", got, r.Operator())
	}
}

func TestSelectorFromLabelSelector(t *testing.T) {
	tests := []struct {
		name  string
		sel   *api.LabelSelector
		str   string
		match map[string]string
		want  bool
		err   string
	}{
		{name: "nil selects nothing", sel: nil, match: map[string]string{}, want: false},
		{name: "empty selects everything", sel: &api.LabelSelector{}, match: map[string]string{"a": "b"}, want: true},
		{
			name:  "matchLabels",
			sel:   &api.LabelSelector{MatchLabels: map[string]string{"app": "kubia"}},
			str:   "app=kubia",
			match: map[string]string{"app": "kubia", "pod-template-hash": "5d9f7c6b8"}, want: true,
		},
		{
			name: "all operators",
			sel: &api.LabelSelector{
				MatchLabels: map[string]string{"app": "kubia"},
				MatchExpressions: []api.LabelSelectorRequirement{
					{Key: "env", Operator: "In", Values: []string{"prod", "staging"}},
					{Key: "tier", Operator: "NotIn", Values: []string{"db"}},
					{Key: "track", Operator: "Exists"},
					{Key: "canary", Operator: "DoesNotExist"},
				},
			},
			str:   "app=kubia,!canary,env in (prod,staging),tier notin (db),track",
			match: map[string]string{"app": "kubia", "env": "prod", "track": "stable"}, want: true,
		},
		{
			name: "In without values",
			sel:  &api.LabelSelector{MatchExpressions: []api.LabelSelectorRequirement{{Key: "env", Operator: "In"}}},
			err:  "invalid label selector: matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
		},
		{
			name: "Exists with values",
			sel:  &api.LabelSelector{MatchExpressions: []api.LabelSelectorRequirement{{Key: "env", Operator: "Exists", Values: []string{"x"}}}},
			err:  "invalid label selector: matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
		},
		{
			name: "unknown operator",
			sel:  &api.LabelSelector{MatchExpressions: []api.LabelSelectorRequirement{{Key: "env", Operator: "in", Values: []string{"x"}}}},
			err:  `invalid label selector: matchExpressions[0].operator: Invalid value: "in": not a valid selector operator`,
		},
		{
			name: "bad matchLabels value",
			sel:  &api.LabelSelector{MatchLabels: map[string]string{"app": "a b"}},
			err:  `invalid label selector: matchLabels: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := SelectorFromLabelSelector(tt.sel)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sel.String() != tt.str {
				t.Errorf("String() = %q, want %q", sel.String(), tt.str)
			}
			if got := sel.Matches(tt.match); got != tt.want {
				t.Errorf("Matches(%v) = %v, want %v", tt.match, got, tt.want)
			}
		})
	}
}

// api.Validate decides "selector does not match template labels" with its
// own small evaluator (api cannot import this package); it must agree with
// SelectorFromLabelSelector on every case.
func TestValidationAgreesWithSelectors(t *testing.T) {
	exprs := []api.LabelSelectorRequirement{
		{Key: "env", Operator: "In", Values: []string{"prod"}},
		{Key: "env", Operator: "NotIn", Values: []string{"prod"}},
		{Key: "track", Operator: "Exists"},
		{Key: "track", Operator: "DoesNotExist"},
	}
	labelSets := []map[string]string{
		{"app": "kubia"},
		{"app": "kubia", "env": "prod"},
		{"app": "kubia", "env": "dev", "track": "x"},
		{"app": "other", "track": ""},
	}
	for _, e := range exprs {
		for _, labels := range labelSets {
			ls := &api.LabelSelector{MatchLabels: map[string]string{"app": "kubia"}, MatchExpressions: []api.LabelSelectorRequirement{e}}
			sel, err := SelectorFromLabelSelector(ls)
			if err != nil {
				t.Fatal(err)
			}
			rs := &api.ReplicaSet{
				TypeMeta:   api.TypeMeta{Kind: api.KindReplicaSet},
				ObjectMeta: api.ObjectMeta{Name: "rs"},
				Spec: api.ReplicaSetSpec{
					Selector: ls,
					Template: api.PodTemplateSpec{
						ObjectMeta: api.ObjectMeta{Labels: labels},
						Spec:       api.PodSpec{Containers: []api.Container{{Name: "c", Image: "i"}}},
					},
				},
			}
			api.SetDefaults(rs)
			validated := api.Validate(rs) == nil
			if validated != sel.Matches(labels) {
				t.Errorf("selector %s on %v: Matches %v, Validate accepts %v", sel, labels, sel.Matches(labels), validated)
			}
		}
	}
}
