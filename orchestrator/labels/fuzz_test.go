package labels

import "testing"

// FuzzParse: any string is parsed or refused, never a panic, and a selector
// that parses prints as a string that parses to the same selector.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "app=kubia", "app==kubia,tier!=db", "env in (prod, qa)", "!canary", "tier notin (a,b),x",
		"a=", "in", "x in ()", "a.b/c-d=e_f", "=", "((", "app=kubia,", "app in (a,b", "k!", strings256()} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(sel.String())
		if err != nil {
			t.Fatalf("%q parsed, printed as %q, which does not parse: %v", s, sel.String(), err)
		}
		if again.String() != sel.String() {
			t.Fatalf("%q printed as %q, reparsed as %q", s, sel.String(), again.String())
		}
		sel.Matches(map[string]string{"app": "kubia", "tier": "web"})
	})
}

func strings256() string {
	b := make([]byte, 256)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return string(b) + "=x"
}
