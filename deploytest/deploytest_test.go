package deploytest_test

// The kit's own tests, on the real Docker engine: two rollouts under load in
// parallel, distinct node ports for Envs started at once, no leftovers after
// a panic, and the reaper. They skip without an engine, except under CI=true.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/deploytest"
	rt "github.com/mini-deploy/mini-deploy/runtime"
	"github.com/mini-deploy/mini-deploy/runtime/docker"
)

const kubiaYAML = "../examples/kubia/kubia.yaml"

var kubiaImages = deploytest.WithImages("luksa/kubia:v1", "luksa/kubia:v2")

// TestMain checks, after every test, that this process left no container
// and no network behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if os.Getenv(helperGate) == "" {
		if err := checkNothingLeft(deploytest.SessionPIDLabel, fmt.Sprint(os.Getpid())); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: after the tests:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkNothingLeft reports the managed containers and networks labelled
// key=value; without an engine there is nothing to check.
func checkNothingLeft(key, value string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := docker.New(ctx)
	if err != nil || e.Ping(ctx) != nil {
		return nil
	}
	defer e.Close()
	match := map[string]string{key: value}
	ctrs, err := e.List(ctx, match)
	if err != nil {
		return err
	}
	nets, err := e.ListNetworks(ctx, match)
	if err != nil {
		return err
	}
	if len(ctrs)+len(nets) == 0 {
		return nil
	}
	var names []string
	for _, c := range ctrs {
		names = append(names, "container "+c.Name)
	}
	for _, n := range nets {
		names = append(names, "network "+n.Name)
	}
	return fmt.Errorf("left behind with %s=%s: %s", key, value, strings.Join(names, ", "))
}

// rolloutUnderLoad rolls kubia from v1 to v2 while keep-alive and
// new-connection clients go through the Env's own Service.
func rolloutUnderLoad(t *testing.T) {
	start := time.Now()
	env := deploytest.Start(t, kubiaImages, deploytest.WithManifests(kubiaYAML))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url := env.ServiceURL("kubia")
	t.Logf("session %s: service kubia at %s, ready in %v", env.Session, url, time.Since(start).Round(time.Millisecond))
	if _, err := env.WaitForHTTP(ctx, url, "This is v1"); err != nil {
		t.Fatal(err)
	}
	ours := map[string]bool{}
	record := func() {
		for _, p := range env.Pods("app=kubia") {
			ours[p.Name] = true
		}
	}
	record()

	load := env.StartLoad(url, deploytest.LoadOptions{Duration: 90 * time.Second, KeepAlive: 6, NewConnections: 3})
	time.Sleep(time.Second)
	if err := env.SetImage("deployment/kubia", "nodejs", "luksa/kubia:v2"); err != nil {
		t.Fatal(err)
	}
	// Remember every pod of the rollout, to prove no answer came from
	// another test's Service.
	sampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		for {
			record()
			select {
			case <-sampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	err := env.WaitReady(ctx, "deployment/kubia")
	time.Sleep(500 * time.Millisecond)
	close(sampling)
	sampler.Wait()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := load.Stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rollout: %d requests in %v, %d failed, by version %v, p99 %v", sum.Requests, sum.Elapsed.Round(time.Millisecond), sum.Failed, sum.ByVersion, sum.P99)
	if sum.Failed != 0 {
		t.Errorf("%d of %d requests failed during the rollout: %v", sum.Failed, sum.Requests, sum.Errors)
	}
	if sum.ByVersion["v1"] == 0 || sum.ByVersion["v2"] == 0 {
		t.Errorf("the load should see v1 turn into v2: %v", sum.ByVersion)
	}
	for pod := range sum.ByPod {
		if !ours[pod] {
			t.Errorf("pod %s answered, which is not one of this Env's pods %v", pod, ours)
		}
	}

	after, err := env.Load(ctx, url, deploytest.LoadOptions{Requests: 60, KeepAlive: 2, NewConnections: 2})
	if err != nil {
		t.Fatal(err)
	}
	if after.Failed != 0 || after.Requests != 60 || after.ByVersion["v2"] != 60 {
		t.Errorf("after the rollout: want 60 v2 answers, got %d requests, %d failed, %v", after.Requests, after.Failed, after.ByVersion)
	}
}

func TestParallelRolloutUnderLoadA(t *testing.T) {
	t.Parallel()
	rolloutUnderLoad(t)
}

func TestParallelRolloutUnderLoadB(t *testing.T) {
	t.Parallel()
	rolloutUnderLoad(t)
}

// Envs started at the same moment each get their own node port, and each
// port is served by that Env's proxy.
func TestConcurrentEnvsGetDistinctNodePorts(t *testing.T) {
	deploytest.RequireEngine(t).Close()
	const n = 4
	urls := make([]string, n)
	var started, done sync.WaitGroup
	started.Add(n)
	for i := range n {
		done.Go(func() {
			t.Run(fmt.Sprintf("env%d", i), func(t *testing.T) {
				var once sync.Once
				defer once.Do(started.Done) // never leave the others waiting
				env := deploytest.Start(t)
				name := fmt.Sprintf("svc-%d", i)
				err := env.ApplyYAML(fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %s
spec:
  selector:
    app: nothing-%d
  ports:
  - port: 80
`, name, i))
				if err != nil {
					t.Fatal(err)
				}
				urls[i] = env.ServiceURL(name)
				once.Do(started.Done)
				started.Wait() // every Env is up before any is checked
				resp, err := http.Get(urls[i])
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), fmt.Sprintf("%q", name)) {
					t.Errorf("%s answered %s %q; want this Env's proxy: 503 naming %q", urls[i], resp.Status, body, name)
				}
			})
		})
	}
	done.Wait()
	if t.Failed() {
		return
	}
	sorted := slices.Clone(urls)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != n {
		t.Errorf("node ports collide: %v", urls)
	}
	t.Logf("urls: %v", urls)
}

const helperGate = "DEPLOYTEST_HELPER_PANIC"

// TestHelperPanics is run by TestPanicLeavesNothing in a child process:
// it starts an Env, says which session it is, and panics.
func TestHelperPanics(t *testing.T) {
	if os.Getenv(helperGate) != "1" {
		t.Skip("only runs as the child of TestPanicLeavesNothing")
	}
	env := deploytest.Start(t, kubiaImages, deploytest.WithManifests(kubiaYAML))
	fmt.Printf("session=%s pods=%d\n", env.Session, len(env.Pods("app=kubia")))
	panic("half-way through the test")
}

func TestPanicLeavesNothing(t *testing.T) {
	deploytest.RequireEngine(t).Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperPanics$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), helperGate+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the child passed; it should have panicked:\n%s", out)
	}
	if !strings.Contains(string(out), "panic: half-way through the test") {
		t.Fatalf("the child failed without the panic (%v):\n%s", err, out)
	}
	session, pods := "", 0
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "session=%s pods=%d", &session, &pods); err == nil {
			break
		}
	}
	if session == "" || pods != 3 {
		t.Fatalf("the child should report its session and 3 pods before panicking:\n%s", out)
	}
	pid := fmt.Sprint(cmd.Process.Pid)
	t.Logf("child %s (session %s, %d pods) panicked: %v", pid, session, pods, err)
	if err := checkNothingLeft(deploytest.SessionLabel, session); err != nil {
		t.Error(err)
	}
	if err := checkNothingLeft(deploytest.SessionPIDLabel, pid); err != nil {
		t.Error(err)
	}
}

// A crashed run's leftovers (a container on a network, and a network
// alone) are removed by the next Start.
func TestReaperRemovesDeadSessions(t *testing.T) {
	engine := deploytest.RequireEngine(t)
	defer engine.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	dead := exec.Command(os.Args[0], "-test.run=^$")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	pid := fmt.Sprint(dead.ProcessState.Pid())
	host, _ := os.Hostname()
	sessions := []string{fmt.Sprintf("reap%d-a", os.Getpid()), fmt.Sprintf("reap%d-b", os.Getpid())}
	for _, s := range sessions {
		t.Cleanup(func() { removeLabelled(engine, s) })
	}
	labels := func(s string) map[string]string {
		return map[string]string{deploytest.SessionLabel: s, deploytest.SessionPIDLabel: pid, deploytest.SessionHostLabel: host}
	}
	for _, s := range sessions {
		if _, err := engine.EnsureNetwork(ctx, "mini-deploy-test-"+s, labels(s)); err != nil {
			t.Fatal(err)
		}
	}
	id, err := engine.Create(ctx, rt.ContainerSpec{
		Name: "mini-deploy-test-" + sessions[0], Image: "luksa/kubia:v1",
		Labels: labels(sessions[0]), Network: "mini-deploy-test-" + sessions[0],
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	for _, s := range sessions {
		if err := checkNothingLeft(deploytest.SessionLabel, s); err == nil {
			t.Fatalf("the leftover of session %s was not created", s)
		}
	}

	deploytest.Start(t)
	for _, s := range sessions {
		if err := checkNothingLeft(deploytest.SessionLabel, s); err != nil {
			t.Errorf("after Start: %v", err)
		}
	}
}

func removeLabelled(engine *docker.Engine, session string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	match := map[string]string{deploytest.SessionLabel: session}
	ctrs, _ := engine.List(ctx, match)
	for _, c := range ctrs {
		_ = engine.Remove(ctx, c.ID)
	}
	nets, _ := engine.ListNetworks(ctx, match)
	for _, n := range nets {
		_ = engine.RemoveNetwork(ctx, n.Name)
	}
}

// The small helpers a test reaches for: logs, HTTP waits, delete.
func TestLogsWaitForHTTPAndDelete(t *testing.T) {
	env := deploytest.Start(t, kubiaImages, deploytest.WithManifests(kubiaYAML))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	body, err := env.WaitForHTTP(ctx, env.ServiceURL("kubia"), "This is v1 running in pod kubia-")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(body)
	pod := fields[len(fields)-1]
	logs, err := env.Logs(pod)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs, "kubia server starting") {
		t.Errorf("logs of %s: %q, want the start line", pod, logs)
	}
	if err := env.Delete(ctx, "deployment/kubia"); err != nil {
		t.Fatal(err)
	}
	if pods := env.Pods("app=kubia"); len(pods) != 0 {
		t.Errorf("after Delete: %d pods left", len(pods))
	}
	if _, err := deploytest.WaitForHTTP(ctx, "http://192.0.2.1/", ""); err == nil || !strings.Contains(err.Error(), "this machine") {
		t.Errorf("WaitForHTTP of a remote address: %v, want a refusal", err)
	}
}
