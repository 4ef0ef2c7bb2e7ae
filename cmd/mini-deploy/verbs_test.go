package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

func expect(t *testing.T, what, got, want string) {
	t.Helper()
	want = strings.TrimPrefix(want, "\n")
	if got != want {
		t.Errorf("%s:\n%s\nwant:\n%s", what, got, want)
	}
}

func TestGet(t *testing.T) {
	rc := kubiaRC("kubia-v1", "kubia")
	rc.Labels = map[string]string{"app": "kubia", "tier": "web"}
	home := daemon(t, newFake(rc, kubiaSvc()))
	out, errOut, code := cli(t, home, "get", "rc")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	expect(t, "get rc", out, `
NAME       DESIRED   CURRENT   READY   AGE
kubia-v1   3         3         3       <unknown>
`)
	out, _, _ = cli(t, home, "get", "rc", "--show-labels")
	expect(t, "get rc --show-labels", out, `
NAME       DESIRED   CURRENT   READY   AGE         LABELS
kubia-v1   3         3         3       <unknown>   app=kubia,tier=web
`)
	out, _, _ = cli(t, home, "get", "svc/kubia", "-o", "name")
	expect(t, "get -o name", out, "service/kubia\n")
	out, _, _ = cli(t, home, "get", "svc", "-o", "wide")
	if !strings.Contains(out, "http://127.0.0.1:30123") {
		t.Errorf("get svc -o wide has no URL:\n%s", out)
	}
	out, errOut, code = cli(t, home, "get", "deploy")
	if code != 0 || out != "" || errOut != "No resources found in default namespace.\n" {
		t.Errorf("empty get: %d %q %q", code, out, errOut)
	}
	_, errOut, code = cli(t, home, "get", "deploy", "nope")
	if code != 1 || errOut != "error: deployments.apps \"nope\" not found\n" {
		t.Errorf("not found: %d %q", code, errOut)
	}
	_, errOut, code = cli(t, home, "get")
	if code != 1 || !strings.HasPrefix(errOut, "error: you must specify the type of resource to get. Valid resource types: all, pods (po)") {
		t.Errorf("no type: %d %q", code, errOut)
	}
	_, errOut, _ = cli(t, home, "get", "pods", "-o", "xml")
	if !strings.HasPrefix(errOut, `error: unable to match a printer suitable for the output format "xml"`) {
		t.Errorf("bad -o: %q", errOut)
	}
	out, _, _ = cli(t, home, "get", "rc,svc", "-o", "yaml")
	if !strings.Contains(out, "kind: List") || !strings.Contains(out, "kind: ReplicationController") {
		t.Errorf("yaml list:\n%s", out)
	}
}

// rcManifest is the seed's first YAML, verbatim.
var rcManifest = func() string {
	b, err := os.ReadFile("../../examples/seed/rc-v1.yaml")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

func TestApply(t *testing.T) {
	fb := newFake(kubiaSvc())
	home := daemon(t, fb)
	dir := t.TempDir()
	file := filepath.Join(dir, "kubia.yaml")
	os.WriteFile(file, []byte(rcManifest), 0o644)

	out, errOut, code := cli(t, home, "apply", "-f", file, "--record")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	expect(t, "apply", out, `
replicationcontroller/kubia-v1 created
service/kubia configured
`)
	if want := fmt.Sprintf("Apply 2 dryRun=false cause=%q", "mini-deploy --home "+home+" apply -f "+file+" --record"); fb.calls[0] != want {
		t.Errorf("call %q, want %q", fb.calls[0], want)
	}

	out, _, code = cliIn(t, home, rcManifest, "apply", "-f", "-", "--dry-run=server")
	if code != 0 || !strings.Contains(out, "service/kubia configured (server dry run)\n") {
		t.Errorf("server dry run: %d\n%s", code, out)
	}
	// A client dry run asks the daemon for a dry run too, so that it says
	// what the apply would do.
	n0 := len(fb.calls)
	out, _, code = cliIn(t, home, rcManifest, "apply", "-f", "-", "--dry-run=client")
	if code != 0 || !strings.Contains(out, "service/kubia configured (dry run)\n") || fb.calls[n0] != `Apply 2 dryRun=true cause=""` {
		t.Errorf("client dry run: %d\n%s%v", code, out, fb.calls[n0:])
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(rcManifest, "replicas: 3", "replicaz: 3", 1)), 0o644)
	n := len(fb.calls)
	_, errOut, code = cli(t, home, "apply", "-f", bad)
	if code != 1 || !strings.Contains(errOut, "bad.yaml") || !strings.Contains(errOut, "replicaz") {
		t.Errorf("bad manifest: %d %q", code, errOut)
	}
	if len(fb.calls) != n {
		t.Errorf("a bad manifest reached the daemon: %v", fb.calls[n:])
	}
	_, errOut, _ = cli(t, home, "apply")
	if errOut != "error: must specify one of -f and -k\n" {
		t.Errorf("no -f: %q", errOut)
	}
}

func TestDeleteScaleSet(t *testing.T) {
	fb := newFake(kubiaRC("kubia-v1", "kubia"), kubiaRC("kubia-v2", "kubia-v2"), kubiaSvc(), kubiaDeploy())
	home := daemon(t, fb)
	for _, tc := range []struct {
		args []string
		out  string
		call string
	}{
		{[]string{"scale", "rc/kubia-v1", "--replicas=5"}, "replicationcontroller/kubia-v1 scaled\n", "Scale ReplicationController kubia-v1 5"},
		{[]string{"scale", "deployment", "kubia", "--replicas", "1"}, "deployment.apps/kubia scaled\n", "Scale Deployment kubia 1"},
		{[]string{"set", "image", "deployment/kubia", "nodejs=luksa/kubia:v2"}, "deployment.apps/kubia image updated\n", "SetImage Deployment kubia map[nodejs:luksa/kubia:v2]"},
		{[]string{"set", "selector", "svc", "kubia", "app=kubia-v2"}, "service/kubia selector updated\n", `SetSelector kubia map[app:kubia-v2] rv=""`},
		{[]string{"set", "selector", "svc/kubia", "app=kubia-v2", "--resource-version=7"}, "service/kubia selector updated\n", `SetSelector kubia map[app:kubia-v2] rv="7"`},
		{[]string{"delete", "rc", "kubia-v2", "--cascade=orphan"}, "replicationcontroller \"kubia-v2\" deleted\n", "Delete ReplicationController kubia-v2 orphan"},
		{[]string{"delete", "rc/kubia-v1", "--grace-period=5"}, "replicationcontroller \"kubia-v1\" deleted\n", "Delete ReplicationController kubia-v1 background grace=5"},
		{[]string{"delete", "svc/kubia", "--now"}, "service \"kubia\" deleted\n", "Delete Service kubia background grace=1"},
		{[]string{"delete", "deploy/kubia", "--force"}, "deployment.apps \"kubia\" force deleted\n", "Delete Deployment kubia background grace=0"},
	} {
		n := len(fb.calls)
		out, errOut, code := cli(t, home, tc.args...)
		if code != 0 || out != tc.out {
			t.Errorf("%q: exit %d out %q err %q", tc.args, code, out, errOut)
		}
		if len(fb.calls) != n+1 || fb.calls[n] != tc.call {
			t.Errorf("%q: calls %q, want %q", tc.args, fb.calls[n:], tc.call)
		}
	}
	_, errOut, _ := cli(t, home, "scale", "rc/kubia-v1")
	expect(t, "scale without --replicas", errOut, "error: the --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0\n")
	_, errOut, _ = cli(t, home, "delete", "rc")
	expect(t, "delete without name", errOut, "error: resource(s) were provided, but no name was specified: give NAME, -l SELECTOR or --all\n")
	_, errOut, _ = cli(t, home, "set", "selector", "rc/kubia-v1", "app=x")
	expect(t, "set selector rc", errOut, "error: cannot set selector replicationcontrollers: only services\n")
	_, errOut, _ = cli(t, home, "delete", "svc", "nope")
	expect(t, "delete not found", errOut, "error: services \"nope\" not found\n")
}

func TestRolloutStatus(t *testing.T) {
	fb := newFake(kubiaDeploy())
	msgs := []string{
		`Waiting for deployment "kubia" rollout to finish: 1 out of 3 new replicas have been updated...`,
		`Waiting for deployment "kubia" rollout to finish: 1 out of 3 new replicas have been updated...`,
		`Waiting for deployment "kubia" rollout to finish: 2 out of 3 new replicas have been updated...`,
		`deployment "kubia" successfully rolled out`,
	}
	fb.rollout = func(req server.RolloutRequest, n int) (server.RolloutResponse, error) {
		n = min(n, len(msgs)-1)
		return server.RolloutResponse{Message: msgs[n], Done: n == len(msgs)-1}, nil
	}
	home := daemon(t, fb)
	out, errOut, code := cli(t, home, "rollout", "status", "deployment/kubia")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	expect(t, "rollout status", out, msgs[0]+"\n"+msgs[2]+"\n"+msgs[3]+"\n")

	fb.nRoll = 0
	fb.rollout = func(server.RolloutRequest, int) (server.RolloutResponse, error) {
		return server.RolloutResponse{Message: msgs[0]}, nil
	}
	_, errOut, code = cli(t, home, "rollout", "status", "deploy", "kubia", "--timeout=600ms")
	if code != 1 || errOut != "error: timed out waiting for the condition\n" {
		t.Errorf("timeout: %d %q", code, errOut)
	}
	out, _, code = cli(t, home, "rollout", "status", "deploy/kubia", "--watch=false")
	if code != 0 || out != msgs[0]+"\n" {
		t.Errorf("--watch=false: %d %q", code, out)
	}
	fb.rollout = func(server.RolloutRequest, int) (server.RolloutResponse, error) {
		return server.RolloutResponse{Message: `deployment "kubia" exceeded its progress deadline`, Failed: true}, nil
	}
	_, errOut, code = cli(t, home, "rollout", "status", "deploy/kubia")
	if code != 1 || errOut != "error: deployment \"kubia\" exceeded its progress deadline\n" {
		t.Errorf("deadline: %d %q", code, errOut)
	}
	_, errOut, _ = cli(t, home, "rollout", "status", "rc/kubia-v1")
	if !strings.Contains(errOut, `updated with "mini-deploy rolling-update"`) {
		t.Errorf("rollout of an rc: %q", errOut)
	}
}

func TestRolloutOtherVerbs(t *testing.T) {
	fb := newFake(kubiaDeploy())
	fb.rollout = func(req server.RolloutRequest, _ int) (server.RolloutResponse, error) {
		switch req.Action {
		case server.RolloutHistory:
			if req.Revision == 2 {
				return server.RolloutResponse{Template: &kubiaDeploy().Spec.Template}, nil
			}
			return server.RolloutResponse{History: []server.RevisionInfo{{Revision: 1}, {Revision: 2, ChangeCause: "mini-deploy set image deployment/kubia nodejs=luksa/kubia:v2"}}}, nil
		case server.RolloutUndo:
			return server.RolloutResponse{Message: "deployment.apps/kubia rolled back"}, nil
		case server.RolloutPlan:
			return server.RolloutResponse{Plan: []server.PlanStep{{Step: 1, Action: "scale up kubia-7c9d to 1", Old: 3, New: 1, Available: 3, Total: 4}}}, nil
		case server.RolloutPause:
			return server.RolloutResponse{}, errors.New(`deployments.apps "kubia" is already paused`)
		}
		return server.RolloutResponse{}, nil
	}
	home := daemon(t, fb)
	out, _, _ := cli(t, home, "rollout", "history", "deployment/kubia")
	expect(t, "history", out, `
deployment.apps/kubia
REVISION  CHANGE-CAUSE
1         <none>
2         mini-deploy set image deployment/kubia nodejs=luksa/kubia:v2
`)
	out, _, _ = cli(t, home, "rollout", "history", "deployment/kubia", "--revision=2")
	if !strings.HasPrefix(out, "deployment.apps/kubia with revision #2\nPod Template:\n  Labels:  app=kubia\n") {
		t.Errorf("history --revision:\n%s", out)
	}
	out, _, _ = cli(t, home, "rollout", "undo", "deployment/kubia", "--to-revision=1")
	expect(t, "undo", out, "deployment.apps/kubia rolled back\n")
	out, _, _ = cli(t, home, "rollout", "resume", "deployment/kubia")
	expect(t, "resume", out, "deployment.apps/kubia resumed\n")
	_, errOut, _ := cli(t, home, "rollout", "pause", "deployment/kubia")
	expect(t, "pause", errOut, "error: deployments.apps \"kubia\" is already paused\n")
	out, _, _ = cli(t, home, "rollout", "plan", "deployment/kubia", "--image=nodejs=luksa/kubia:v2")
	expect(t, "plan", out, `
STEP   ACTION                     OLD   NEW   AVAILABLE   TOTAL
1      scale up kubia-7c9d to 1   3     1     3           4
`)
	if last := fb.calls[len(fb.calls)-1]; last != "Rollout plan kubia rev=0" {
		t.Errorf("last call %q", last)
	}
}

func TestRollingUpdate(t *testing.T) {
	lines := []string{
		"Created kubia-v2",
		"Scaling up kubia-v2 from 0 to 3, scaling down kubia-v1 from 3 to 0 (keep 3 pods available, don't exceed 4 pods)",
		"Scaling kubia-v2 up to 1",
		"Update succeeded. Deleting kubia-v1",
		`replicationcontroller/kubia-v2 rolling updated to "kubia-v2"`,
	}
	ru := func(phase string, n int) *api.RollingUpdate {
		return &api.RollingUpdate{TypeMeta: api.TypeMeta{Kind: api.KindRollingUpdate}, ObjectMeta: api.ObjectMeta{Name: "kubia-v1", Namespace: "default"},
			Status: api.RollingUpdateStatus{Phase: phase, Lines: lines[:n]}}
	}
	fb := newFake()
	fb.ru = []*api.RollingUpdate{ru("Running", 1), ru("Running", 3), ru("Running", 3), ru("Succeeded", 5)}
	home := daemon(t, fb)
	out, errOut, code := cli(t, home, "rolling-update", "kubia-v1", "kubia-v2", "--image=luksa/kubia:v2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	expect(t, "stdout", out, strings.Join(lines, "\n")+"\n")
	expect(t, "stderr", errOut, "Command \"rolling-update\" is deprecated, use \"rollout\" instead\n")
	if fb.calls[0] != "RollingUpdate kubia-v1 kubia-v2 luksa/kubia:v2 1s" {
		t.Errorf("call %q", fb.calls[0])
	}

	fb.nRU = 0
	fb.ru = []*api.RollingUpdate{ru("Running", 2), ru("Failed", 3)}
	_, errOut, code = cli(t, home, "rolling-update", "kubia-v1", "kubia-v2", "--image=luksa/kubia:v2")
	if code != 1 || !strings.HasSuffix(errOut, "error: rolling update of kubia-v1 failed\n") {
		t.Errorf("failed update: %d %q", code, errOut)
	}
}

func TestLogsVersionDown(t *testing.T) {
	fb := newFake()
	home := daemon(t, fb)
	out, _, code := cli(t, home, "logs", "kubia-v1-x7k2p", "--tail", "5")
	if code != 0 || out != "Kubia server starting...\n" || fb.calls[0] != "Logs kubia-v1-x7k2p tail=5 follow=false" {
		t.Errorf("logs: %d %q %q", code, out, fb.calls)
	}
	out, _, _ = cli(t, home, "version")
	if !strings.HasPrefix(out, "Client Version: dev\nServer Version: test\nDaemon: pid 4242") {
		t.Errorf("version:\n%s", out)
	}
	_, errOut, code := cli(t, home, "logs", "deploy/kubia")
	if code != 1 || errOut != "error: deployments.apps \"kubia\" not found\n" {
		t.Errorf("logs of a missing deployment: %d %q", code, errOut)
	}
}

func TestLoad(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "This is v1 running in pod kubia-v1-x7k2p")
	}))
	defer srv.Close()
	out, errOut, code := cli(t, t.TempDir(), "load", srv.URL, "--requests", "20", "--concurrency", "2")
	if code != 0 || !strings.Contains(out, "failed: 0\n") || !strings.Contains(out, "by version: v1: 20\n") {
		t.Errorf("load: %d\n%s%s", code, out, errOut)
	}
	_, errOut, code = cli(t, t.TempDir(), "load", srv.URL, "--duration", "11m")
	if code != 1 || !strings.Contains(errOut, "over the limit of 10m0s") {
		t.Errorf("long load: %d %q", code, errOut)
	}
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no ready endpoint", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	out, errOut, code = cli(t, t.TempDir(), "load", failing.URL, "--requests", "3")
	if code != 1 || !strings.Contains(out, "failed: 3\n") || errOut != "error: 3 of 3 requests failed\n" {
		t.Errorf("failing load: %d\n%s%q", code, out, errOut)
	}
}

func TestExec(t *testing.T) {
	pod := kubiaPod("kubia-v1-x7k2p", true)
	pod.Status.ContainerStatuses[0].ContainerID = "docker://0123456789abcdef0123"
	fb := newFake(pod)
	home := daemon(t, fb)
	// No terminal here: -it says what to run instead.
	_, errOut, code := cli(t, home, "exec", "-it", "kubia-v1-x7k2p", "--", "sh")
	if code != 1 || errOut != "error: exec: -i and -t (an interactive terminal) are not supported; run: docker exec -it 0123456789ab sh\n" {
		t.Errorf("exec -it: %d %q", code, errOut)
	}
	out, errOut, code := cli(t, home, "exec", "kubia-v1-x7k2p", "--", "echo", "hello", "-n")
	if code != 0 || out != "hello -n\n" || errOut != "" {
		t.Errorf("exec echo: %d %q %q", code, out, errOut)
	}
	// The command's exit code is the CLI's, as with kubectl.
	out, errOut, code = cli(t, home, "exec", "kubia-v1-x7k2p", "--", "false")
	if code != 3 || out != "it failed\n" || errOut != "command terminated with exit code 3\n" {
		t.Errorf("exec false: %d %q %q", code, out, errOut)
	}
	_, errOut, code = cli(t, home, "exec", "kubia-v1-nope", "--", "ls")
	if code != 1 || errOut != "error: pods \"kubia-v1-nope\" not found\n" {
		t.Errorf("exec in a missing pod: %d %q", code, errOut)
	}
	_, errOut, code = cli(t, home, "exec", "kubia-v1-x7k2p", "ls")
	if code != 1 || !strings.Contains(errOut, "then -- and the command") {
		t.Errorf("exec without --: %d %q", code, errOut)
	}
	if got := strings.Join(fb.calls, "|"); got != `Exec kubia-v1-x7k2p ["echo" "hello" "-n"]|Exec kubia-v1-x7k2p ["false"]|Exec kubia-v1-nope ["ls"]` {
		t.Errorf("backend calls: %s", got)
	}
}

// logs -l prints every matching pod's logs, the last 10 lines of each by
// default as in kubectl, in name order; --prefix names pod and container.
func TestLogsBySelector(t *testing.T) {
	var pods []api.Object
	for _, name := range []string{"kubia-v1-bbbbb", "kubia-v1-aaaaa"} {
		p := kubiaPod(name, true)
		p.Labels = map[string]string{"app": "kubia"}
		p.Spec.Containers = []api.Container{{Name: "nodejs", Image: "luksa/kubia:v1"}}
		pods = append(pods, p)
	}
	fb := newFake(pods...)
	home := daemon(t, fb)
	out, errOut, code := cli(t, home, "logs", "-l", "app=kubia", "--prefix")
	expect(t, "logs -l --prefix", out, `
[pod/kubia-v1-aaaaa/nodejs] Kubia server starting...
[pod/kubia-v1-bbbbb/nodejs] Kubia server starting...
`)
	if code != 0 || errOut != "" {
		t.Errorf("exit %d: %s", code, errOut)
	}
	var logCalls []string
	for _, c := range fb.calls {
		if strings.HasPrefix(c, "Logs ") {
			logCalls = append(logCalls, c)
		}
	}
	if got := strings.Join(logCalls, "|"); got != "Logs kubia-v1-aaaaa tail=10 follow=false|Logs kubia-v1-bbbbb tail=10 follow=false" {
		t.Errorf("backend calls: %s", got)
	}
	// -f --tail 0 follows new lines only; --tail 0 alone prints nothing.
	n := len(fb.calls)
	if _, _, code := cli(t, home, "logs", "kubia-v1-aaaaa", "-f", "--tail", "0"); code != 0 || len(fb.calls) != n+1 || fb.calls[n] != "Logs kubia-v1-aaaaa tail=-1 follow=true" {
		t.Errorf("logs -f --tail 0: exit %d, calls %q", code, fb.calls[n:])
	}
	if out, _, _ := cli(t, home, "logs", "kubia-v1-aaaaa", "--tail", "0"); out != "" || len(fb.calls) != n+1 {
		t.Errorf("logs --tail 0: %q, calls %q", out, fb.calls[n:])
	}
	_, errOut, code = cli(t, home, "logs", "kubia-v1-aaaaa", "-l", "app=kubia")
	if code != 1 || !strings.Contains(errOut, "only a selector (-l) or a pod name") {
		t.Errorf("logs with a name and -l: %d %q", code, errOut)
	}
}

// delete pod waits, as kubectl does, until the pod has drained and is gone;
// --wait=false returns at once.
func TestDeletePodWaitsUntilItIsGone(t *testing.T) {
	fb := newFake(kubiaPod("kubia-v1-x7k2p", true), kubiaPod("kubia-v1-y8l3q", true))
	fb.podGets = 2
	home := daemon(t, fb)
	out, _, code := cli(t, home, "delete", "pod", "kubia-v1-x7k2p")
	if code != 0 || out != "pod \"kubia-v1-x7k2p\" deleted\n" {
		t.Fatalf("delete: %d %q", code, out)
	}
	if got := strings.Join(fb.calls, "|"); got != "Delete Pod kubia-v1-x7k2p background|Get Pod kubia-v1-x7k2p (terminating)|Get Pod kubia-v1-x7k2p (terminating)" {
		t.Errorf("calls %s, want the delete and gets until the pod is gone", got)
	}
	fb.calls, fb.podGets = nil, 2
	if _, _, code := cli(t, home, "delete", "pod", "kubia-v1-y8l3q", "--wait=false"); code != 0 || strings.Join(fb.calls, "|") != "Delete Pod kubia-v1-y8l3q background" {
		t.Errorf("delete --wait=false: %d %q", code, fb.calls)
	}
}
