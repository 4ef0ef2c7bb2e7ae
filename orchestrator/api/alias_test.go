package api

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// A value that includes itself through a merge key or an alias is an error
// naming the file and line, not a stack overflow.
func TestSelfReferencingAliasIsAnError(t *testing.T) {
	cases := map[string]string{
		"merge":      "apiVersion: v1\nkind: Service\nmetadata: &m {name: x, <<: *m}\n",
		"merge list": "apiVersion: v1\nkind: Service\nmetadata: &m\n  name: x\n  <<: [*m]\n",
		"value":      "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec: &s\n  ports:\n  - port: 80\n    name: *s\n",
		"in a List":  "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: &m {name: x, <<: *m}\n",
	}
	for name, y := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeManifests("bomb.yaml", []byte(y))
			if err == nil {
				t.Fatal("decoded")
			}
			if !strings.Contains(err.Error(), "bomb.yaml") || !strings.Contains(err.Error(), "line ") {
				t.Errorf("error %q does not name the file and line", err)
			}
		})
	}
	_, err := DecodeManifests("bomb.yaml", []byte(cases["merge"]))
	if !strings.Contains(err.Error(), "alias *m refers to a value that contains it") {
		t.Errorf("error %q does not say what is wrong", err)
	}
}

// Nested aliases that would expand a few KB into hundreds of MB are refused
// at a bound, with little memory spent: a 1,000-byte string, fifty times in
// a container's args, fifty such containers, fifty such Deployments in a
// List: 125 MB of strings from about 2 KB of YAML.
func TestAliasExpansionIsBounded(t *testing.T) {
	doc := bomb(50)
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	_, err := DecodeManifests("bomb.yaml", []byte(doc))
	runtime.ReadMemStats(&ms1)
	alloc := ms1.TotalAlloc - ms0.TotalAlloc
	t.Logf("%d bytes of YAML, %.1f MB allocated, error: %.300s", len(doc), float64(alloc)/1e6, err)
	if err == nil || !strings.Contains(err.Error(), "aliases expand this document past") {
		t.Fatalf("got %v, want the expansion refused", err)
	}
	if alloc > 64<<20 {
		t.Errorf("decoding allocated %d MB", alloc>>20)
	}
}

// The same shape at a size people write (a shared block used a few times)
// decodes.
func TestAnchorsUsedModeratelyDecode(t *testing.T) {
	objs, err := DecodeManifests("ok.yaml", []byte(bomb(3)))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 {
		t.Fatalf("got %d objects", len(objs))
	}
}

func bomb(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	fmt.Fprintf(&b, "- &d\n  apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: bomb}\n  spec:\n")
	b.WriteString("    selector: {matchLabels: {app: a}}\n    template:\n      metadata: {labels: {app: a}}\n")
	b.WriteString("      spec:\n        containers:\n        - &c\n          name: a\n          image: b\n")
	fmt.Fprintf(&b, "          command: [&s %s]\n          args: [", strings.Repeat("x", 1000))
	for range n {
		b.WriteString("*s,")
	}
	b.WriteString("]\n")
	for range n - 1 {
		b.WriteString("        - *c\n")
	}
	for range n - 1 {
		b.WriteString("- *d\n")
	}
	return b.String()
}
