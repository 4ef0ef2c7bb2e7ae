package main

// End-to-end tests of the everyday kubectl verbs (issue 15) through the real
// binary, its daemon and the engine. Each expected output is what kubectl
// prints for the same case, as its documentation and source word it.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
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

	top := e.ok("top", "pods", "-l", "app=kubia")
	if !regexp.MustCompile(`^NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)\n(kubia-[a-z0-9]+-[a-z0-9]{5}\s+\d+m\s+[1-9]\d*Mi\n){3}$`).MatchString(top) {
		t.Errorf("top pods: want 3 rows, each with some memory in use:\n%s", top)
	}

	e.portForward("deploy/kubia", "8080", "--address=localhost")
	e.portForward("svc/kubia", "80")
	e.portForward("pod/"+podNames(e.pods())[0], "8080")

	// --for=delete: a deleted pod is waited for until it is gone.
	pod := podNames(e.pods())[0]
	e.ok("delete", "pod", pod, "--wait=false")
	e.expect(0, "pod/"+pod+" condition met\n", "", "wait", "--for=delete", "pod/"+pod, "--timeout=60s")
}

// runEnv runs one command line with extra environment variables.
func (e *e2e) runEnv(env []string, args ...string) (stdout, stderr string, code int) {
	ctx, cancel := context.WithTimeout(context.Background(), cliBound)
	defer cancel()
	cmd := e.command(ctx, args...)
	cmd.Env = append(cmd.Env, env...)
	return execute(cmd)
}

// label, annotate (the change-cause in rollout history) and edit (with a
// script as the editor) on the seed's Deployment and Service.
func TestE2ELabelAnnotateEdit(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	e.up(kubiaDir, "deployment.apps/kubia created")

	// Completion asks the daemon for live names; api-resources and explain
	// need none, and run through the same binary.
	e.expect(0, "deploy/kubia\n:4\n", "Completion ended with directive: ShellCompDirectiveNoFileComp\n", "__complete", "label", "deploy/")
	e.expect(0, "service/kubia\n:4\n", "Completion ended with directive: ShellCompDirectiveNoFileComp\n", "__complete", "edit", "service/")
	if out := e.ok("api-resources"); !strings.Contains(out, "\ndeployments              deploy       apps/v1             true         Deployment\n") {
		t.Errorf("api-resources:\n%s", out)
	}
	if out := e.ok("explain", "deployment.spec.replicas"); !strings.HasPrefix(out, "GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n\nFIELD: replicas <integer>\n") {
		t.Errorf("explain deployment.spec.replicas:\n%s", out)
	}

	e.expect(0, "deployment.apps/kubia labeled\n", "", "label", "deployment", "kubia", "tier=web")
	e.expect(0, "deployment.apps/kubia not labeled\n", "", "label", "deploy/kubia", "tier=web")
	e.expect(1, "", "error: 'tier' already has a value (web), and --overwrite is false\n", "label", "deploy/kubia", "tier=api")
	e.expect(0, "deployment.apps/kubia labeled\n", "", "label", "deploy/kubia", "tier=api", "--overwrite")
	e.expect(0, "service/kubia labeled\ndeployment.apps/kubia labeled\n", "", "label", "svc/kubia", "deploy/kubia", "team=blue")
	e.expect(0, "kubia\tblue,api\n", "", "get", "deploy", "kubia", "-o", `jsonpath={.metadata.name}{"\t"}{.metadata.labels.team},{.metadata.labels.tier}{"\n"}`)
	e.expect(0, "deployment.apps/kubia unlabeled\n", "", "label", "deploy", "-l", "team=blue", "tier-")
	e.expect(0, "service/kubia unlabeled\n", "", "label", "svc", "--all", "team-")
	e.expect(1, "", "error: at least one label update is required\n", "label", "deploy/kubia")
	e.expect(1, "", "error: resource(s) were provided, but no name was specified: give NAME, -l SELECTOR or --all\n", "label", "deploy", "x=y")

	e.expect(0, "deployment.apps/kubia annotated\n", "", "annotate", "deploy/kubia", "owner=blue")
	e.expect(1, "", "error: --overwrite is false but found the following declared annotation(s): 'owner' already has a value (blue)\n", "annotate", "deploy/kubia", "owner=red")
	e.expect(0, "deployment.apps/kubia annotated\n", "", "annotate", "deploy/kubia", "owner-")

	// The change-cause of the revision running now, and of the next one,
	// written with annotate: rollout history shows them.
	e.expect(0, "deployment.apps/kubia annotated\n", "", "annotate", "deploy/kubia", "kubernetes.io/change-cause=kubia v1, from the seed")
	e.ok("set", "image", "deploy/kubia", "nodejs=luksa/kubia:v2")
	e.expect(0, "deployment.apps/kubia annotated\n", "", "annotate", "deploy/kubia", "kubernetes.io/change-cause=kubia v2, the new greeting", "--overwrite")
	e.ok("rollout", "status", "deploy/kubia")
	e.waitFor("both change-causes in rollout history", func() bool {
		out, _, _ := e.run("rollout", "history", "deploy/kubia")
		return out == "deployment.apps/kubia\nREVISION  CHANGE-CAUSE\n1         kubia v1, from the seed\n2         kubia v2, the new greeting\n"
	})

	// edit: a script is the editor. It scales to 2; then an invalid value
	// re-opens the file with the error on top, and the fix is stored.
	dir := t.TempDir()
	editor := filepath.Join(dir, "editor.sh")
	state := filepath.Join(dir, "state")
	os.WriteFile(editor, []byte(`#!/bin/sh
n=$(cat "$STATE" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$STATE"
cp "$1" "$STATE.$n"
case "$MODE.$n" in
scale.1) sed -i 's/^  replicas: 3$/  replicas: 2/' "$1" ;;
invalid.1) sed -i 's/^  replicas: 2$/  replicas: -1/' "$1" ;;
invalid.2) sed -i 's/^  replicas: -1$/  replicas: 1/' "$1" ;;
esac
`), 0o755)
	env := func(mode string) []string {
		os.Remove(state)
		return []string{"KUBE_EDITOR=" + editor, "STATE=" + state, "MODE=" + mode}
	}
	out, errOut, code := e.runEnv(env("none"), "edit", "deploy/kubia")
	if code != 0 || out != "Edit cancelled, no changes made.\n" {
		t.Errorf("edit saved unchanged: exit %d, %q %q", code, out, errOut)
	}
	opened, _ := os.ReadFile(state + ".1")
	if !strings.HasPrefix(string(opened), editHeader+"apiVersion: apps/v1\nkind: Deployment\n") {
		t.Errorf("edit opened:\n%s", opened)
	}
	out, errOut, code = e.runEnv(env("scale"), "edit", "deployment", "kubia")
	if code != 0 || out != "deployment.apps/kubia edited\n" {
		t.Errorf("edit to 2 replicas: exit %d, %q %q", code, out, errOut)
	}
	e.expect(0, "2", "", "get", "deploy/kubia", "-o", "jsonpath={.spec.replicas}")
	out, errOut, code = e.runEnv(env("invalid"), "edit", "deploy/kubia")
	if code != 0 || out != "deployment.apps/kubia edited\n" {
		t.Errorf("edit with an invalid value, then fixed: exit %d, %q %q", code, out, errOut)
	}
	reopened, _ := os.ReadFile(state + ".2")
	if !strings.HasPrefix(string(reopened), editHeader+"# deployment.apps \"kubia\" was not valid:\n# * ") || !strings.Contains(string(reopened), "\n  replicas: -1\n") {
		t.Errorf("edit re-opened:\n%s", reopened)
	}
	e.expect(0, "1", "", "get", "deploy/kubia", "-o", "jsonpath={.spec.replicas}")
	// Invalid, then saved as it was: kubectl's words, exit 1.
	os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/^  replicas: 1$/  replicas: -1/' \"$1\"\n"), 0o755)
	_, errOut, code = e.runEnv(env("x"), "edit", "deploy/kubia")
	if code != 1 || errOut != "error: Edit cancelled, no valid changes were saved.\n" {
		t.Errorf("edit left invalid: exit %d, %q", code, errOut)
	}
}

// create deployment, expose, run, patch (three types), set env, set
// resources, replace -f (and its conflict) and scale -f, from an empty
// control plane to a Service that answers.
func TestE2EGenerateAndChange(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	if _, errOut, code := e.run("up"); code != 0 {
		t.Fatalf("up: exit %d: %s", code, errOut)
	}
	dir := t.TempDir()

	// The manifest a dry run prints is the one created next, and a file
	// to scale by.
	manifest := e.ok("create", "deployment", "kubia", "--image=luksa/kubia:v1", "--replicas=2", "--port=8080", "--dry-run=client", "-o", "yaml")
	for _, want := range []string{"kind: Deployment\n", "  labels:\n    app: kubia\n", "  replicas: 2\n", "        - image: luksa/kubia:v1\n          name: kubia\n          ports:\n            - containerPort: 8080\n"} {
		if !strings.Contains(manifest, want) {
			t.Errorf("create --dry-run=client -o yaml: no %q in:\n%s", want, manifest)
		}
	}
	e.expect(0, "deployment.apps/kubia created\n", "", "create", "deployment", "kubia", "--image=luksa/kubia:v1", "--replicas=2", "--port=8080")
	e.expect(1, "", "error: deployments.apps \"kubia\" already exists\n", "create", "deployment", "kubia", "--image=luksa/kubia:v1")
	e.expect(0, "service/kubia exposed\n", "", "expose", "deployment", "kubia", "--port=80", "--target-port=8080", "--type=NodePort")
	e.expect(0, "deployment.apps/kubia condition met\n", "", "wait", "--for=condition=Available", "deploy/kubia", "--timeout=60s")
	url := e.ok("get", "svc", "kubia", "-o", "jsonpath=http://{.spec.clusterIP}:{.spec.ports[0].nodePort}")
	answers(t, url, "v1", 4)

	e.expect(0, "replicationcontroller/kubia-rc created\n", "", "run", "kubia-rc", "--image=luksa/kubia:v1", "--port=8080", "--generator=run/v1")
	e.expect(0, "kubia-rc 1 kubia-rc", "", "get", "rc", "kubia-rc", "-o", "jsonpath={.spec.selector.run} {.spec.replicas} {.spec.template.metadata.labels.run}")

	// patch: strategic (the default), merge and json.
	e.expect(0, "deployment.apps/kubia patched\n", "", "patch", "deployment", "kubia", "-p", `{"spec":{"replicas":3}}`)
	e.expect(0, "deployment.apps/kubia patched (no change)\n", "", "patch", "deploy/kubia", "-p", `{"spec":{"replicas":3}}`)
	e.expect(0, "deployment.apps/kubia patched\n", "", "patch", "deploy/kubia", "-p", `{"spec":{"template":{"spec":{"containers":[{"name":"kubia","image":"luksa/kubia:v2"}]}}}}`)
	e.expect(0, "8080", "", "get", "deploy/kubia", "-o", "jsonpath={.spec.template.spec.containers[0].ports[0].containerPort}")
	e.ok("rollout", "status", "deploy/kubia", "--timeout=90s")
	answers(t, url, "v2", 4)
	e.expect(0, "deployment.apps/kubia patched\n", "", "patch", "deploy/kubia", "--type=json", "-p", `[{"op":"replace","path":"/spec/replicas","value":2}]`)
	e.expect(0, "deployment.apps/kubia patched\n", "", "patch", "deploy/kubia", "--type", "merge", "-p", "metadata:\n  labels:\n    tier: web\n")
	e.expect(0, "2 web", "", "get", "deploy/kubia", "-o", "jsonpath={.spec.replicas} {.metadata.labels.tier}")
	if _, errOut, code := e.run("patch", "deploy/kubia", "-p", `{"spec":{"replicaz":2}}`); code != 1 || !strings.Contains(errOut, "replicaz") {
		t.Errorf("patch with a misspelt field: exit %d, %q", code, errOut)
	}

	// set env and set resources.
	e.expect(0, "deployment.apps/kubia env updated\n", "", "set", "env", "deployment/kubia", "GREETING=hello", "TIER=web")
	e.expect(0, "# Deployment kubia, container kubia\nGREETING=hello\nTIER=web\n", "", "set", "env", "deploy/kubia", "--list")
	e.expect(0, "deployment.apps/kubia env updated\n", "", "set", "env", "deploy/kubia", "TIER-")
	e.expect(0, "GREETING=hello", "", "get", "deploy/kubia", "-o", "jsonpath={range .spec.template.spec.containers[0].env[*]}{.name}={.value}{end}")
	e.expect(0, "deployment.apps/kubia resource requirements updated\n", "", "set", "resources", "deployment", "kubia", "--limits=cpu=200m,memory=64Mi", "--requests=cpu=100m")
	e.expect(0, "200m 64Mi 100m", "", "get", "deploy/kubia", "-o", "jsonpath={.spec.template.spec.containers[0].resources.limits.cpu} {.spec.template.spec.containers[0].resources.limits.memory} {.spec.template.spec.containers[0].resources.requests.cpu}")
	e.expect(1, "", "error: unable to find container named \"nope\"\n", "set", "env", "deploy/kubia", "-c", "nope", "A=b")
	e.ok("rollout", "status", "deploy/kubia", "--timeout=90s")

	// replace -f with what get -o yaml gave: replicas 1; the same file
	// again carries a stale resourceVersion and is refused.
	live := e.ok("get", "deploy/kubia", "-o", "yaml")
	if !strings.Contains(live, "\n  replicas: 2\n") {
		t.Fatalf("get -o yaml:\n%s", live)
	}
	file := filepath.Join(dir, "live.yaml")
	os.WriteFile(file, []byte(strings.Replace(live, "\n  replicas: 2\n", "\n  replicas: 1\n", 1)), 0o644)
	e.expect(0, "deployment.apps/kubia replaced\n", "", "replace", "-f", file)
	e.expect(0, "1", "", "get", "deploy/kubia", "-o", "jsonpath={.spec.replicas}")
	if _, errOut, code := e.run("replace", "-f", file); code != 1 || !strings.Contains(errOut, "the object has been modified") {
		t.Errorf("replace with a stale resourceVersion: exit %d, %q", code, errOut)
	}
	other := filepath.Join(dir, "other.yaml")
	os.WriteFile(other, []byte(strings.Replace(manifest, "\n  name: kubia\n", "\n  name: other\n", 1)), 0o644)
	e.expect(1, "", "error: deployments.apps \"other\" not found\n", "replace", "-f", other)

	// scale -f the file the dry run printed.
	created := filepath.Join(dir, "created.yaml")
	os.WriteFile(created, []byte(manifest), 0o644)
	e.expect(0, "deployment.apps/kubia scaled\n", "", "scale", "-f", created, "--replicas=3")
	e.expect(0, "deployment.apps/kubia condition met\n", "", "wait", "--for=jsonpath={.status.readyReplicas}=3", "deploy/kubia", "--timeout=60s")
}

var forwardingLine = regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> 8080\n$`)

// portForward runs `port-forward TARGET :REMOTE`, checks kubectl's lines,
// sends a request through it to kubia and stops it with Ctrl-C (SIGINT).
func (e *e2e) portForward(target, remote string, flags ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliBound)
	defer cancel()
	cmd := e.command(ctx, append([]string{"port-forward", target, ":" + remote}, flags...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewReader(stdout)
	first, err := lines.ReadString('\n')
	m := forwardingLine.FindStringSubmatch(first)
	if m == nil {
		e.t.Fatalf("port-forward %s :%s: first line %q (%v), stderr %q", target, remote, first, err, errOut.String())
	}
	answers(e.t, "http://127.0.0.1:"+m[1]+"/", "v1", 2)
	for range 2 {
		if l, _ := lines.ReadString('\n'); l != "Handling connection for "+m[1]+"\n" {
			e.t.Errorf("port-forward %s: line %q, want \"Handling connection for %s\"", target, l, m[1])
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		e.t.Errorf("port-forward %s after Ctrl-C: %v; stderr %q", target, err, errOut.String())
	}
}

// Feedback where the daemon knows the answer (issue 15, item 8): one
// "Starting" line for two concurrent ups; a missing image named at apply
// and set image, by the pod's status and an event, and by up at once; up
// exits 1 when a Service's node port is held by another program.
func TestE2EFeedback(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	type result struct {
		errOut string
		code   int
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			_, errOut, code := e.run("up")
			results <- result{errOut, code}
		}()
	}
	starting := 0
	for range 2 {
		r := <-results
		if r.code != 0 {
			t.Fatalf("concurrent up: exit %d: %s", r.code, r.errOut)
		}
		starting += strings.Count(r.errOut, "Starting the mini-deploy daemon")
	}
	if starting != 1 {
		t.Errorf("two concurrent ups said %d times that they started the daemon, want once", starting)
	}

	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.yaml")
	os.WriteFile(broken, []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
spec:
  replicas: 1
  selector:
    matchLabels:
      app: broken
  template:
    metadata:
      labels:
        app: broken
    spec:
      containers:
      - name: app
        image: luksa/kubia:not-built
`), 0o644)
	warning := "Warning: image \"luksa/kubia:not-built\" is not on the Docker engine and mini-deploy never pulls images: build it (make images, or docker build -t luksa/kubia:not-built DIR) or docker pull it; until then the pods of deployment.apps/broken wait in ErrImageNeverPull\n"
	e.expect(0, "deployment.apps/broken created\n", warning, "apply", "-f", broken)
	e.expect(0, "deployment.apps/kubia created\nservice/kubia created\n", "", "apply", "-f", kubiaDir)
	e.ok("wait", "--for=jsonpath={.status.containerStatuses[0].state.waiting.reason}=ErrImageNeverPull", "pod", "-l", "app=broken", "--timeout=60s")
	if out := e.ok("get", "pods", "-l", "app=broken"); !regexp.MustCompile(`\nbroken-[a-z0-9]+-[a-z0-9]{5}\s+0/1\s+ErrImageNeverPull\s+0\s+`).MatchString(out) {
		t.Errorf("get pods of a missing image:\n%s", out)
	}
	if out := e.ok("get", "events"); !strings.Contains(out, "ErrImageNeverPull") {
		t.Errorf("get events has no ErrImageNeverPull:\n%s", out)
	}
	_, errOut, code := e.run("up", "-f", broken)
	if code != 1 || !regexp.MustCompile(`error: deployment.apps/broken: pod broken-\S+ is waiting with ErrImageNeverPull: .*luksa/kubia:not-built`).MatchString(errOut) {
		t.Errorf("up of a missing image: exit %d, stderr %q; want exit 1 naming ErrImageNeverPull", code, errOut)
	}
	e.expect(0, "deployment.apps/kubia image updated\n", strings.ReplaceAll(warning, "broken", "kubia"), "set", "image", "deploy/kubia", "nodejs=luksa/kubia:not-built")

	// A node port another program holds: refused at apply; and when it is
	// taken while the daemon is down, up says so and exits 1.
	var held net.Listener
	for port := 32000 + os.Getpid()%700; held == nil && port < 32767; port++ {
		held, _ = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	}
	if held == nil {
		t.Fatal("no free port in 32000-32766 to hold")
	}
	port := held.Addr().(*net.TCPAddr).Port
	svc := filepath.Join(dir, "svc.yaml")
	os.WriteFile(svc, []byte(fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: blocked
spec:
  type: NodePort
  selector:
    app: kubia
  ports:
  - port: 80
    targetPort: 8080
    nodePort: %d
`, port)), 0o644)
	_, errOut, code = e.run("up", "-f", svc)
	if code != 1 || !strings.Contains(errOut, fmt.Sprintf("nodePort: Invalid value: %d: port %d on 127.0.0.1 is in use by another program", port, port)) {
		t.Errorf("up of a Service whose node port is held: exit %d, stderr %q", code, errOut)
	}
	held.Close()
	e.ok("up", "-f", svc)
	e.killAll()
	held, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("hold port %d again: %v", port, err)
	}
	defer held.Close()
	out, errOut, code := e.run("up", "-f", svc)
	if code != 1 || !strings.Contains(errOut, fmt.Sprintf("error: service/blocked: node port %d is not served: ", port)) ||
		!strings.Contains(out, fmt.Sprintf("warning: node port %d is not served", port)) {
		t.Errorf("up after the node port was taken: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}
