package main

// End-to-end tests of the everyday kubectl verbs (issue 15) through the real
// binary, its daemon and the engine. Each expected output is what kubectl
// prints for the same case, as its documentation and source word it.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// e2eExpect runs a command line and checks its exit code and its whole
// output on stdout and stderr.
func (e *e2e) expect(code int, stdout, stderr string, args ...string) {
	e.t.Helper()
	out, errOut, got := e.run(args...)
	if got != code || out != stdout || errOut != stderr {
		e.t.Errorf("mini-deploy %s:\nexit %d, want %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\nwant:\n%s",
			strings.Join(args, " "), got, code, out, stdout, errOut, stderr)
	}
}

// `wait` and `diff` on the seed's Deployment: what scripts use instead of
// sleeping, with kubectl's lines and exit codes.
func TestE2EWaitAndDiff(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	e.up(kubiaDir, "deployment.apps/kubia created")

	e.expect(0, "deployment.apps/kubia condition met\n", "", "wait", "--for=condition=Available", "deployment/kubia", "--timeout=60s")
	e.expect(0, "deployment.apps/kubia condition met\n", "", "wait", "--for=condition=progressing", "deploy", "kubia")
	e.expect(0, "deployment.apps/kubia condition met\n", "", "wait", "--for=jsonpath={.status.readyReplicas}=3", "deploy/kubia")
	out := e.ok("wait", "--for=condition=Ready", "pod", "-l", "app=kubia")
	if !regexp.MustCompile(`^(pod/kubia-[a-z0-9]+-[a-z0-9]{5} condition met\n){3}$`).MatchString(out) {
		t.Errorf("wait for 3 ready pods:\n%s", out)
	}
	e.expect(1, "", "error: timed out waiting for the condition on deployments/kubia\n", "wait", "--for=condition=Bogus", "deploy/kubia", "--timeout=1s")
	e.expect(1, "", "error: no matching resources found\n", "wait", "--for=condition=Ready", "pods", "-l", "app=nothing")
	e.expect(1, "", "error: deployments.apps \"nope\" not found\n", "wait", "--for=condition=Available", "deploy/nope")

	// Nothing to change: exit 0, nothing printed.
	e.expect(0, "", "", "diff", "-f", kubiaDir)
	// A new image: exit 1 and the unified diff of live against merged.
	manifest, err := os.ReadFile(filepath.Join(kubiaDir, "kubia.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	v2 := filepath.Join(t.TempDir(), "kubia-v2.yaml")
	os.WriteFile(v2, []byte(strings.Replace(string(manifest), "luksa/kubia:v1", "luksa/kubia:v2", 1)), 0o644)
	out, errOut, code := e.run("diff", "-f", v2)
	if code != 1 || errOut != "" {
		t.Errorf("diff of a new image: exit %d, want 1; stderr %q", code, errOut)
	}
	header := regexp.MustCompile(`(?m)^diff -u -N /\S*/LIVE-\d+/apps\.v1\.Deployment\.default\.kubia /\S*/MERGED-\d+/apps\.v1\.Deployment\.default\.kubia\n--- /\S*/LIVE-\d+/apps\.v1\.Deployment\.default\.kubia\t.*\n\+\+\+ /\S*/MERGED-\d+/apps\.v1\.Deployment\.default\.kubia\t.*\n@@ `)
	for _, want := range []string{"\n-        - image: luksa/kubia:v1\n", "\n+        - image: luksa/kubia:v2\n", "\n-  generation: 1\n", "\n+  generation: 2\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff: no %q in:\n%s", want, out)
		}
	}
	if !header.MatchString(out) || strings.Contains(out, "v1.Service.default.kubia") {
		t.Errorf("diff: want kubectl's header for the Deployment alone:\n%s", out)
	}
	// The diff changed nothing.
	e.expect(0, "", "", "diff", "-f", kubiaDir)
	// An error: exit 2, as kubectl's "more than 1".
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(string(manifest), "replicas: 3", "replicaz: 3", 1)), 0o644)
	_, errOut, code = e.run("diff", "-f", bad)
	if code != 2 || !strings.Contains(errOut, "replicaz") {
		t.Errorf("diff of a bad file: exit %d, want 2; stderr %q", code, errOut)
	}

	// --for=delete: a deleted pod is waited for until it is gone.
	pod := podNames(e.pods())[0]
	e.ok("delete", "pod", pod, "--wait=false")
	e.expect(0, "pod/"+pod+" condition met\n", "", "wait", "--for=delete", "pod/"+pod, "--timeout=60s")
}
