package diff

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mini-deploy/mini-deploy/export"
	"github.com/mini-deploy/mini-deploy/k8stest"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// TestExportedExamplesPassStrictDryRun exports every example as `mini-deploy
// export -f` does and sends each object to the real API server's strict dry
// run: what export prints must be accepted by a cluster as it is.
func TestExportedExamplesPassStrictDryRun(t *testing.T) {
	cp := k8stest.Shared(t)
	ns := cp.Namespace(t)
	dirs, _ := filepath.Glob("../../examples/*")
	n := 0
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, f := range files {
			objs, err := api.ReadManifests([]string{f})
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			res, err := export.Manifests(objs, export.Options{})
			if err != nil {
				t.Fatalf("export %s: %v", f, err)
			}
			y, err := res.YAML()
			if err != nil {
				t.Fatal(err)
			}
			for i, doc := range strings.Split(string(y), "\n---\n") {
				n++
				if v := kubeVerdict(context.Background(), cp, ns, doc); !v.ok {
					t.Errorf("%s, exported document %d: the API server %s\n%s", f, i+1, v, doc)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no example was exported")
	}
	t.Logf("%d exported objects accepted", n)
}
