package api

import (
	"strings"
	"testing"
)

func TestNameChecks(t *testing.T) {
	tests := []struct {
		name  string
		check func(string) []string
		good  []string
		bad   []string
	}{
		{"DNS1123Label", IsDNS1123Label,
			[]string{"a", "kubia-v1", "0abc", strings.Repeat("a", 63)},
			[]string{"", "A", "-a", "a-", "a_b", "a.b", strings.Repeat("a", 64)}},
		{"DNS1035Label", IsDNS1035Label,
			[]string{"a", "kubia-v1"},
			[]string{"", "1a", "a-", "A"}},
		{"DNS1123Subdomain", IsDNS1123Subdomain,
			[]string{"a", "example.com", "mini-deploy.io", "a.b-c.d"},
			[]string{"", ".a", "a.", "a..b", "A.com", strings.Repeat("a.", 127)}},
		{"QualifiedName", IsQualifiedName,
			[]string{"app", "App_1", "a.b-c", "example.com/name", "mini-deploy.io/auto-rollback", strings.Repeat("a", 63)},
			[]string{"", "/a", "a/", "a/b/c", "-a", "a b", "Example.com/a", strings.Repeat("a", 64), "a/" + strings.Repeat("a", 64)}},
		{"LabelValue", IsValidLabelValue,
			[]string{"", "kubia", "v1.2_x", strings.Repeat("a", 63)},
			[]string{"-a", "a b", "a/b", strings.Repeat("a", 64)}},
		{"PortName", IsValidPortName,
			[]string{"http", "web-1", "h2c"},
			[]string{"", "8080", "-http", "http-", "a--b", "HTTP", "abcdefghijklmnop"}},
		{"EnvVarName", IsEnvVarName,
			[]string{"PATH", "my.var", "1X"},
			[]string{"", "A=B", "A\nB"}},
	}
	for _, tt := range tests {
		for _, s := range tt.good {
			if errs := tt.check(s); len(errs) > 0 {
				t.Errorf("%s(%q) = %v, want valid", tt.name, s, errs)
			}
		}
		for _, s := range tt.bad {
			if errs := tt.check(s); len(errs) == 0 {
				t.Errorf("%s(%q) valid, want errors", tt.name, s)
			}
		}
	}
	if got := IsQualifiedName("a/b/c"); len(got) != 1 || !strings.HasPrefix(got[0], "a qualified name must") {
		t.Errorf("a/b/c: %v", got)
	}
	if got := IsQualifiedName("Bad_Prefix/x"); len(got) != 1 || !strings.HasPrefix(got[0], "prefix part a lowercase RFC 1123 subdomain") {
		t.Errorf("prefix: %v", got)
	}
}
