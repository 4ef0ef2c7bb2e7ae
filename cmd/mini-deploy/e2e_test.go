package main

// End-to-end tests: the real mini-deploy binary, its detached daemon and the
// Docker engine, driven the way a user drives them, one state directory per
// test. They skip without an engine, except under CI=true, where they fail.
//
// Every test registers its cleanup before it starts anything: `mini-deploy
// down`, then SIGKILL for a daemon that is still alive, then removal by the
// home's instance label of whatever container or network is left, so that a
// failing test leaks nothing.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/deploytest"
	"github.com/mini-deploy/mini-deploy/orchestrator"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/client"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	rt "github.com/mini-deploy/mini-deploy/runtime"
	"github.com/mini-deploy/mini-deploy/runtime/docker"
	"github.com/mini-deploy/mini-deploy/runtime/docker/dockertest"
	"github.com/mini-deploy/mini-deploy/runtime/runtimetest"
)

const (
	seedRCv1  = "../../examples/seed/rc-v1.yaml"
	kubiaDir  = "../../examples/kubia/"
	e2eWait   = 60 * time.Second
	e2ePoll   = 50 * time.Millisecond
	cliBound  = 2 * time.Minute
	loadBound = 90 * time.Second
)

// e2eBinary builds the mini-deploy binary the first time an end-to-end test
// asks for it, and only then: a run of the unit tests alone builds nothing.
// It is built with the race detector when the tests have it, so the daemon's
// races show too. The directory it is built in goes when the tests end.
var e2eBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "mini-deploy-e2e-")
	if err != nil {
		return "", err
	}
	e2eDir = dir
	bin := filepath.Join(dir, "mini-deploy")
	if err := buildBinary(bin); err != nil {
		return "", fmt.Errorf("build mini-deploy for the end-to-end tests: %w", err)
	}
	return bin, nil
})

// buildBinary builds this command into bin, with the race detector when the
// tests have it, and with extra go build flags.
func buildBinary(bin string, flags ...string) error {
	args := append([]string{"build", "-o", bin}, flags...)
	if raceEnabled() {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	return build.Run()
}

// e2eDir holds the binary, once built.
var e2eDir string

func TestMain(m *testing.M) {
	// startDaemon runs os.Executable(), which in a test is this binary: a
	// test that lets it get that far must not start every test again, each
	// of which could do the same.
	if len(os.Args) > 1 && os.Args[1] == "daemon" {
		fmt.Fprintln(os.Stderr, "the test binary was started as a daemon: a test let startDaemon exec os.Executable()")
		os.Exit(2)
	}
	code := m.Run()
	if e2eDir != "" {
		os.RemoveAll(e2eDir)
	}
	os.Exit(code)
}

func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// e2e is one test's state directory, its daemon and its containers.
type e2e struct {
	t        *testing.T
	bin      string
	home     string
	instance string
	network  string
	engine   *docker.Engine
	env      []string // added to every command's environment (DOCKER_HOST)
	// userHome, when set, is $HOME of the commands, which then use their
	// default state directory, <userHome>/.mini-deploy, with no --home.
	userHome string
	// as, when set, runs the commands as another user.
	as *syscall.Credential
}

func newE2E(t *testing.T) *e2e {
	t.Helper()
	home := t.TempDir()
	instance, network := instanceOf(home)
	return startE2E(t, &e2e{home: home, instance: instance, network: network})
}

// startE2E completes e with the engine and the binary, and registers its
// cleanup before anything starts.
func startE2E(t *testing.T, e *e2e) *e2e {
	t.Helper()
	e.t, e.engine = t, deploytest.RequireEngine(t)
	bin, err := e2eBinary()
	if err != nil {
		t.Fatal(err)
	}
	e.bin = bin
	if n := len(filepath.Join(e.home, socketName)); n > 100 {
		t.Fatalf("socket path under %s is %d bytes, too long for a unix socket", e.home, n)
	}
	// Before the first daemon starts: whatever fails, its things go.
	t.Cleanup(e.cleanup)
	return e
}

func (e *e2e) match() map[string]string {
	return map[string]string{orchestrator.LabelInstance: e.instance}
}

func (e *e2e) cleanup() {
	t := e.t
	defer e.engine.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dctx, dcancel := context.WithTimeout(ctx, 45*time.Second)
	_, errOut, code := e.runCtx(dctx, "down", "--timeout=30s")
	dcancel()
	if code != 0 {
		t.Logf("cleanup: down: exit %d: %s", code, errOut)
	}
	// The data planes first: they would start a killed daemon again.
	for _, pid := range e.dataPlanePIDs() {
		t.Logf("cleanup: the data plane (pid %d) outlived down: killing it", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if pid := e.daemonPID(); pid > 0 {
		t.Logf("cleanup: the daemon (pid %d) outlived down: killing it", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	removed, err := dockertest.RemoveMatching(ctx, e.engine, e.match())
	for _, what := range removed {
		t.Logf("cleanup: removed leftover %s", what)
	}
	if err != nil {
		t.Errorf("cleanup: %v", err)
	}
	for _, l := range []struct{ what, name string }{{"daemon", logName}, {"data plane", dataPlaneLog}} {
		logText, _ := os.ReadFile(filepath.Join(e.home, l.name))
		if bytes.Contains(logText, []byte("WARNING: DATA RACE")) {
			t.Errorf("the %s reported a data race:\n%s", l.what, logText)
		} else if t.Failed() {
			t.Logf("%s log:\n%s", l.what, tail(filepath.Join(e.home, l.name), 400))
		}
	}
}

// daemonPID is the pid in <home>/daemon.pid when that process is alive and
// is this home's daemon, else 0.
func (e *e2e) daemonPID() int {
	data, err := os.ReadFile(filepath.Join(e.home, pidName))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(e.home)) {
		return 0
	}
	return pid
}

// dataPlanePIDs lists the live data plane processes of this home, found by
// their sockets in <home>/dataplane (named <pid>.sock).
func (e *e2e) dataPlanePIDs() []int {
	socks, _ := filepath.Glob(filepath.Join(e.home, "dataplane", "*.sock"))
	var pids []int
	for _, s := range socks {
		pid, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(s), ".sock"))
		if err != nil || pid <= 0 {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && bytes.Contains(cmdline, []byte("dataplane")) && bytes.Contains(cmdline, []byte(e.home)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killAll kills every mini-deploy process of this home with SIGKILL, as an
// OOM killer or a lost machine would: the daemon is stopped first so that it
// starts no data plane, then the data planes (which would start the daemon
// again), then the daemon. It waits until all are gone; the pods and the
// Services' ports are left as such a loss leaves them.
func (e *e2e) killAll() {
	e.t.Helper()
	daemon := e.liveDaemon()
	if err := syscall.Kill(daemon, syscall.SIGSTOP); err != nil {
		e.t.Fatalf("kill -STOP %d: %v", daemon, err)
	}
	e.kill9("the killed mini-deploy processes", append(e.dataPlanePIDs(), daemon)...)
	e.waitFor("no mini-deploy process of this home", func() bool { return len(e.dataPlanePIDs()) == 0 && e.daemonPID() == 0 })
}

// killDaemon kills the daemon alone with SIGKILL, as a crash would, and
// waits until it is gone. Its data planes go on serving and start it again.
func (e *e2e) killDaemon() {
	e.t.Helper()
	e.kill9("the killed daemon", e.liveDaemon())
}

// liveDaemon is daemonPID, failing the test when no daemon runs.
func (e *e2e) liveDaemon() int {
	e.t.Helper()
	pid := e.daemonPID()
	if pid == 0 {
		e.t.Fatal("no daemon to kill")
	}
	return pid
}

// kill9 sends SIGKILL to pids and waits until every one is gone.
func (e *e2e) kill9(what string, pids ...int) {
	e.t.Helper()
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
			e.t.Fatalf("kill -9 %d: %v", pid, err)
		}
	}
	e.waitFor(what+" to be gone", func() bool {
		for _, pid := range pids {
			if syscall.Kill(pid, 0) != syscall.ESRCH {
				return false
			}
		}
		return true
	})
}

func (e *e2e) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.bin, append([]string{"--home", e.home}, args...)...)
	cmd.Env = append(append(os.Environ(), "MINI_DEPLOY_HOME="+e.home), e.env...)
	cmd.Dir = "."
	if e.userHome != "" {
		cmd = exec.CommandContext(ctx, e.bin, args...)
		cmd.Env = []string{"HOME=" + e.userHome, "PATH=" + os.Getenv("PATH")}
		if h := os.Getenv("DOCKER_HOST"); h != "" {
			cmd.Env = append(cmd.Env, "DOCKER_HOST="+h)
		}
		cmd.Env = append(cmd.Env, e.env...)
		cmd.Dir = e.userHome
	}
	if e.as != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.as}
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func (e *e2e) runCtx(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	return execute(e.command(ctx, args...))
}

// execute runs cmd and returns its output and exit code (-1 when it could
// not run, with the reason in stderr).
func execute(cmd *exec.Cmd) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		code = -1
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), code
}

// run runs one command line, bounded in time.
func (e *e2e) run(args ...string) (stdout, stderr string, code int) {
	ctx, cancel := context.WithTimeout(context.Background(), cliBound)
	defer cancel()
	return e.runCtx(ctx, args...)
}

// ok runs one command line, fails the test unless it exits 0 and returns
// its output.
func (e *e2e) ok(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("mini-deploy %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func (e *e2e) waitFor(what string, cond func() bool) time.Duration {
	e.t.Helper()
	return runtimetest.Eventually(e.t, e2eWait, e2ePoll, what, cond)
}

var urlLine = regexp.MustCompile(`(?m)^service/kubia: (http://127\.0\.0\.1:(\d+))$`)

// up runs `up -f file`, checks what it says it created and returns the URL
// of service/kubia.
func (e *e2e) up(file string, created ...string) string {
	e.t.Helper()
	out, errOut, code := e.run("up", "--log-level=debug", "-f", file)
	if code != 0 {
		e.t.Fatalf("up -f %s: exit %d\n%s%s", file, code, out, errOut)
	}
	for _, line := range created {
		if !hasLine(out, line) {
			e.t.Errorf("up -f %s: no line %q in:\n%s", file, line, out)
		}
	}
	if !strings.Contains(errOut, "Starting the mini-deploy daemon (pid ") {
		e.t.Errorf("up did not say it started the daemon: %q", errOut)
	}
	m := urlLine.FindStringSubmatch(out)
	if m == nil {
		e.t.Fatalf("up -f %s printed no URL for service/kubia:\n%s", file, out)
	}
	return m[1]
}

// pods is `get pods -o json`, checked to be a List.
func (e *e2e) pods() []api.Pod {
	e.t.Helper()
	var list struct {
		APIVersion string    `json:"apiVersion"`
		Kind       string    `json:"kind"`
		Items      []api.Pod `json:"items"`
	}
	out := e.ok("get", "pods", "-o", "json")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		e.t.Fatalf("get pods -o json: %v\n%s", err, out)
	}
	if list.Kind != "List" || list.APIVersion != "v1" {
		e.t.Fatalf("get pods -o json: apiVersion %q kind %q, want v1 List", list.APIVersion, list.Kind)
	}
	return list.Items
}

// containerIDs maps pod names to their container IDs.
func containerIDs(t *testing.T, pods []api.Pod) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, p := range pods {
		if len(p.Status.ContainerStatuses) != 1 || !strings.HasPrefix(p.Status.ContainerStatuses[0].ContainerID, "docker://") {
			t.Fatalf("pod %s: want one container status with a docker:// ID, got %+v", p.Name, p.Status.ContainerStatuses)
		}
		ids[p.Name] = p.Status.ContainerStatuses[0].ContainerID
	}
	return ids
}

// readyPods are the pods that are Running, ready and not terminating.
func readyPods(pods []api.Pod) []api.Pod {
	var out []api.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.Phase == "Running" && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready {
			out = append(out, p)
		}
	}
	return out
}

func podNames(pods []api.Pod) []string {
	names := make([]string, 0, len(pods))
	for _, p := range pods {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}

// waitPods waits until exactly n pods exist, all ready, and returns them.
func (e *e2e) waitPods(n int, what string, extra func([]api.Pod) bool) []api.Pod {
	e.t.Helper()
	var got []api.Pod
	e.waitFor(what, func() bool {
		got = e.pods()
		return len(got) == n && len(readyPods(got)) == n && (extra == nil || extra(got))
	})
	return got
}

// containers lists this home's containers on the engine.
func (e *e2e) containers() []rt.Container {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctrs, err := e.engine.List(ctx, e.match())
	if err != nil {
		e.t.Fatal(err)
	}
	return ctrs
}

func hasLine(out, line string) bool {
	return slices.Contains(strings.Split(out, "\n"), line)
}

var kubiaAnswer = regexp.MustCompile(`^This is (v\d) running in pod (\S+)\n$`)

// answers sends n GETs, each on a new connection, and counts the answers by
// pod; any failure or an answer from another version fails the test.
func answers(t *testing.T, url, version string, n int) map[string]int {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	byPod := map[string]int{}
	for range n {
		resp, err := hc.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %q %v", url, resp.Status, body, err)
		}
		m := kubiaAnswer.FindStringSubmatch(string(body))
		if m == nil || m[1] != version {
			t.Fatalf("GET %s answered %q, want %q", url, body, "This is "+version+" running in pod ...")
		}
		byPod[m[2]]++
	}
	return byPod
}

// startLoad runs the issues' client mix (8 keep-alive GET, 4 new-connection
// GET, 2 POST clients) at a bounded rate, since the machine also runs the
// pods and other tests, for at most loadBound.
func startLoad(t *testing.T, url string) *deploytest.LoadRun {
	opts := deploytest.IssueMix
	opts.Duration, opts.Rate = loadBound, 320
	return deploytest.StartLoad(t, url, opts)
}

// podSampler records the most pods and the fewest ready pods seen through
// the API while a rollout runs.
type podSampler struct {
	maxPods, minReady int
	stop, done        chan struct{}
}

func (e *e2e) samplePods() *podSampler {
	s := &podSampler{minReady: 1 << 30, stop: make(chan struct{}), done: make(chan struct{})}
	c := client.New(filepath.Join(e.home, socketName))
	go func() {
		defer close(s.done)
		defer c.Close()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			objs, err := c.List(ctx, api.KindPod, api.DefaultNamespace, "app=kubia")
			cancel()
			if err == nil {
				pods, ready := 0, 0
				for _, o := range objs {
					p := o.(*api.Pod)
					if p.DeletionTimestamp != nil {
						continue
					}
					pods++
					if len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready {
						ready++
					}
				}
				s.maxPods, s.minReady = max(s.maxPods, pods), min(s.minReady, ready)
			}
			select {
			case <-s.stop:
				return
			case <-time.After(25 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *podSampler) finish() (maxPods, minReady int) {
	close(s.stop)
	<-s.done
	return s.maxPods, s.minReady
}

var podName = regexp.MustCompile(`^kubia-v1-[a-z0-9]{5}$`)

// The seed's first chapter through the CLI: a ReplicationController of 3
// kubia pods behind a NodePort Service, self-healing, scaling, bad input.
func TestE2ESeedReplicationController(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	url := e.up(seedRCv1, "replicationcontroller/kubia-v1 created", "service/kubia created", "replicationcontroller/kubia-v1 ready (3/3)")
	port := url[strings.LastIndex(url, ":")+1:]

	table := e.ok("get", "pods")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 || !regexp.MustCompile(`^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$`).MatchString(lines[0]) {
		t.Fatalf("get pods:\n%s", table)
	}
	row := regexp.MustCompile(`^(kubia-v1-[a-z0-9]{5})\s+1/1\s+Running\s+0\s+\d+s$`)
	names := map[string]bool{}
	for _, l := range lines[1:] {
		m := row.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("get pods: row %q is not a Running 1/1 kubia-v1-xxxxx pod:\n%s", l, table)
		}
		names[m[1]] = true
	}

	// The hostname is the pod name, and the Service spreads over all 3.
	byPod := answers(t, url, "v1", 30)
	for pod := range byPod {
		if !names[pod] {
			t.Errorf("answer from %q, not one of the pods %v", pod, names)
		}
	}
	if len(byPod) != 3 {
		t.Errorf("answers came from %v, want all 3 pods", byPod)
	}

	svc := e.ok("get", "svc", "kubia")
	if !regexp.MustCompile(`(?m)^kubia\s+NodePort\s+\S+\s+<none>\s+80:`+port+`/TCP\s+\d+s$`).MatchString(svc) || !strings.HasPrefix(port, "3") {
		t.Errorf("get svc kubia, want 80:%s/TCP:\n%s", port, svc)
	}
	describe := e.ok("describe", "rc", "kubia-v1")
	for name := range names {
		if !strings.Contains(describe, "Created pod: "+name) {
			t.Errorf("describe rc kubia-v1: no event %q:\n%s", "Created pod: "+name, describe)
		}
	}
	pods := e.pods()
	if got := podNames(pods); len(got) != 3 || !names[got[0]] || !names[got[1]] || !names[got[2]] {
		t.Errorf("get pods -o json: items %v, want %v", got, names)
	}
	ids := containerIDs(t, pods)
	for _, c := range e.containers() {
		if ids[c.Name] != "docker://"+c.ID || c.Hostname != c.Name {
			t.Errorf("container %s (hostname %s, id %s) does not match get pods -o json %v", c.Name, c.Hostname, c.ID, ids)
		}
	}
	wantNames := ""
	for _, n := range podNames(pods) {
		wantNames += "pod/" + n + "\n"
	}
	if out := e.ok("get", "pods", "-o", "name"); out != wantNames {
		t.Errorf("get pods -o name = %q, want %q", out, wantNames)
	}

	// delete pod: the RC makes a replacement.
	victim := podNames(pods)[0]
	if out := e.ok("delete", "pod", victim); out != fmt.Sprintf("pod %q deleted\n", victim) {
		t.Errorf("delete pod: %q", out)
	}
	pods = e.waitPods(3, "a replacement of the deleted pod", func(ps []api.Pod) bool {
		return !slices.Contains(podNames(ps), victim)
	})

	// docker rm -f behind the control plane's back: self-healing, timed.
	victim = podNames(pods)[0]
	ids = containerIDs(t, pods)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.engine.Remove(ctx, strings.TrimPrefix(ids[victim], "docker://")); err != nil {
		t.Fatal(err)
	}
	removed := time.Since(start)
	var running time.Duration
	e.waitFor("a new running container after docker rm -f", func() bool {
		for _, c := range e.containers() {
			if c.Running() && ids[c.Name] == "" {
				running = time.Since(start)
				return true
			}
		}
		return false
	})
	pods = e.waitPods(3, "a ready replacement after docker rm -f", func(ps []api.Pod) bool {
		return !slices.Contains(podNames(ps), victim)
	})
	// A figure, not a check: tests check behaviour, and make bench reports
	// the self-healing time.
	t.Logf("self-healing after docker rm -f (which took %v): replacement container running %v after it began, Running and ready in get pods after %v",
		removed.Round(time.Millisecond), running.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	// docker kill: restarted in place, RESTARTS 1.
	victim = podNames(pods)[0]
	ids = containerIDs(t, pods)
	if err := e.engine.Kill(ctx, strings.TrimPrefix(ids[victim], "docker://"), "SIGKILL"); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the killed pod restarted in place", func() bool {
		for _, p := range readyPods(e.pods()) {
			if p.Name == victim && p.Status.ContainerStatuses[0].RestartCount == 1 {
				return true
			}
		}
		return false
	})
	pods = e.waitPods(3, "3 pods after docker kill", nil)
	if got := containerIDs(t, pods); !maps.Equal(got, ids) {
		t.Errorf("docker kill recreated containers: before %v, after %v", ids, got)
	}
	if !regexp.MustCompile(`(?m)^` + victim + `\s+1/1\s+Running\s+1( \(\d+s ago\))?\s+\d+s$`).MatchString(e.ok("get", "pods")) {
		t.Errorf("get pods does not show %s Running with RESTARTS 1:\n%s", victim, e.ok("get", "pods"))
	}

	// scale to 5, then to 1.
	if out := e.ok("scale", "rc", "kubia-v1", "--replicas=5"); out != "replicationcontroller/kubia-v1 scaled\n" {
		t.Errorf("scale: %q", out)
	}
	e.waitPods(5, "5 pods", nil)
	e.ok("scale", "rc/kubia-v1", "--replicas=1")
	e.waitPods(1, "1 pod", nil)
	e.waitFor("1 container on the engine", func() bool { return len(e.containers()) == 1 })
	if rc := e.ok("get", "rc"); !regexp.MustCompile(`(?m)^kubia-v1\s+1\s+1\s+1\s+\d+s$`).MatchString(rc) {
		t.Errorf("get rc after scaling to 1:\n%s", rc)
	}
	if n := len(e.pods()); n != 1 {
		t.Errorf("get pods -o json with one pod: %d items", n)
	}

	// Bad input: exit 1, an error naming the problem, the file and the
	// document, and nothing of that apply stored: each file starts with a
	// valid Service.
	dir := t.TempDir()
	const service = "apiVersion: v1\nkind: Service\nmetadata:\n  name: kubia-bad\nspec:\n  selector:\n    app: kubia-bad\n  ports:\n  - port: 80\n    targetPort: 8080\n---\n"
	const template = "  template:\n    metadata:\n      labels:\n        app: kubia-bad\n    spec:\n      containers:\n      - name: nodejs\n        image: luksa/kubia:v1\n"
	rc := func(spec string) string {
		return "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: kubia-bad\nspec:\n" + spec + template
	}
	for _, bad := range []struct{ name, manifest, want string }{
		{"unknown-field.yaml", service + rc("  replicaz: 3\n"), `unknown-field.yaml: document 2 (ReplicationController "kubia-bad"): spec.replicaz: unknown field`},
		{"negative-replicas.yaml", service + rc("  replicas: -1\n"), `negative-replicas.yaml: document 2: ReplicationController "kubia-bad" is invalid: spec.replicas: Invalid value: -1`},
		{"selector-mismatch.yaml", service + rc("  selector:\n    app: other\n"), `selector-mismatch.yaml: document 2: ReplicationController "kubia-bad" is invalid: spec.template.metadata.labels`},
		{"duplicate.yaml", service + rc("") + "---\n" + rc(""), `duplicate ReplicationController "kubia-bad"`},
	} {
		file := filepath.Join(dir, bad.name)
		if err := os.WriteFile(file, []byte(bad.manifest), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := e.run("apply", "-f", file)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "error: ") || !strings.Contains(errOut, bad.want) {
			t.Errorf("apply -f %s: exit %d, stdout %q, stderr %q; want exit 1 and an error saying %q", bad.name, code, out, errOut, bad.want)
		}
		for _, what := range [][]string{{"svc", "kubia-bad"}, {"rc", "kubia-bad"}} {
			if _, errOut, code := e.run(append([]string{"get"}, what...)...); code != 1 || !strings.Contains(errOut, `"kubia-bad" not found`) {
				t.Errorf("after the failed apply of %s, get %s: exit %d %q: something was stored", bad.name, strings.Join(what, " "), code, errOut)
			}
		}
	}
	_, errOut, code := e.run("get", "deploy", "nope")
	if code != 1 || !strings.HasPrefix(errOut, "error: ") || !strings.Contains(errOut, `"nope" not found`) {
		t.Errorf("get deploy nope: exit %d %q", code, errOut)
	}
}

// Every mini-deploy process killed with SIGKILL (daemon and data planes)
// leaves the pods running; the next up adopts them and recreates none.
func TestE2EDaemonCrashAdoptsPods(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	url := e.up(seedRCv1, "replicationcontroller/kubia-v1 created", "service/kubia created")
	before := containerIDs(t, e.waitPods(3, "3 pods", nil))

	e.killAll()
	if _, errOut, code := e.run("get", "pods"); code != 1 || !strings.Contains(errOut, "cannot reach the mini-deploy daemon") {
		t.Errorf("get pods without a daemon: exit %d %q", code, errOut)
	}
	if n := len(e.containers()); n != 3 {
		t.Errorf("%d containers after the daemon died, want its 3 pods still there", n)
	}

	out, errOut, code := e.run("up")
	if code != 0 || !strings.Contains(errOut, "Starting the mini-deploy daemon") || !strings.Contains(out, url) {
		t.Fatalf("up after the crash: exit %d\n%s%s", code, out, errOut)
	}
	after := containerIDs(t, readyPods(e.pods()))
	if !maps.Equal(before, after) {
		t.Fatalf("get pods -o json after the restart lists %v, before it %v", after, before)
	}
	answers(t, url, "v1", 6)
	// Give the controllers time to do something wrong.
	time.Sleep(3 * time.Second)
	for _, p := range e.pods() {
		if n := p.Status.ContainerStatuses[0].RestartCount; n != 0 {
			t.Errorf("pod %s restarted %d times", p.Name, n)
		}
	}
	if after := containerIDs(t, e.pods()); !maps.Equal(before, after) {
		t.Errorf("pods changed after the restart: %v, before %v", after, before)
	}
	if n := len(e.containers()); n != 3 {
		t.Errorf("%d containers on the engine after the restart, want 3", n)
	}
}

var waitingLine = regexp.MustCompile(`^Waiting for deployment (spec update to be observed|"kubia" rollout to finish: (\d+ out of 3 new replicas have been updated|\d+ old replicas are pending termination|\d+ of 3 updated replicas are available))\.\.\.$`)

// rolloutStatus runs `rollout status deployment/kubia` and checks kubectl's
// lines.
func (e *e2e) rolloutStatus() {
	e.t.Helper()
	out := e.ok("rollout", "status", "deployment/kubia")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if lines[len(lines)-1] != `deployment "kubia" successfully rolled out` {
		e.t.Errorf("rollout status ends with %q", lines[len(lines)-1])
	}
	for _, l := range lines[:len(lines)-1] {
		if !waitingLine.MatchString(l) {
			e.t.Errorf("rollout status: unexpected line %q", l)
		}
	}
	e.t.Logf("rollout status:\n%s", out)
}

// rolloutUnderLoad changes the Deployment with the CLI while the client mix
// runs, follows it with rollout status, and checks 0 failed requests, the
// pod bounds of maxSurge 1 / maxUnavailable 0 and the version at the end.
func (e *e2e) rolloutUnderLoad(url, what, version, said string, change ...string) {
	e.t.Helper()
	load := startLoad(e.t, url)
	s := e.samplePods()
	time.Sleep(time.Second)
	start := time.Now()
	if out := e.ok(change...); out != said {
		e.t.Errorf("mini-deploy %s: %q, want %q", strings.Join(change, " "), out, said)
	}
	e.rolloutStatus()
	took := time.Since(start)
	time.Sleep(500 * time.Millisecond)
	maxPods, minReady := s.finish()
	load.Check(e.t, what)
	e.t.Logf("%s: rolled out in %v; at most %d pods, at least %d ready", what, took.Round(10*time.Millisecond), maxPods, minReady)
	if maxPods > 4 || minReady < 3 {
		e.t.Errorf("%s: saw %d pods at most and %d ready at least; want at most 4 and at least 3", what, maxPods, minReady)
	}
	answers(e.t, url, version, 12)
	e.waitPods(3, "3 pods after "+what, func(ps []api.Pod) bool {
		for _, p := range ps {
			if p.Spec.Containers[0].Image != "luksa/kubia:"+version {
				return false
			}
		}
		return true
	})
}

var rsRow = regexp.MustCompile(`^(kubia-[a-z0-9]{6,10})\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+m)?\d+s$`)

// replicaSets parses `get rs` into name -> "desired current ready".
func (e *e2e) replicaSets() map[string]string {
	e.t.Helper()
	out := e.ok("get", "rs")
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		m := rsRow.FindStringSubmatch(l)
		if m == nil {
			e.t.Fatalf("get rs: row %q:\n%s", l, out)
		}
		got[m[1]] = m[2] + " " + m[3] + " " + m[4]
	}
	return got
}

// The seed's conclusion: the Deployment rolls v1 out to v2 by itself, under
// load, with no failed request; history, undo, pause and resume, the plan.
func TestE2EDeploymentRollout(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	url := e.up(kubiaDir, "deployment.apps/kubia created", "service/kubia created", "deployment.apps/kubia ready (3/3)")
	answers(t, url, "v1", 6)
	v1RS := e.replicaSets()
	if len(v1RS) != 1 {
		t.Fatalf("get rs before the rollout: %v", v1RS)
	}

	e.rolloutUnderLoad(url, "v1 -> v2", "v2", "deployment.apps/kubia image updated\n", "set", "image", "deployment/kubia", "nodejs=luksa/kubia:v2")
	history := e.ok("rollout", "history", "deployment/kubia")
	if !regexp.MustCompile(`^deployment.apps/kubia\nREVISION\s+CHANGE-CAUSE\n1\s+\S.*\n2\s+\S.*\n$`).MatchString(history) {
		t.Errorf("rollout history, want revisions 1 and 2:\n%s", history)
	}
	rs := e.replicaSets()
	var v1Name, v2Name string
	for name, counts := range rs {
		switch {
		case v1RS[name] != "" && counts == "0 0 0":
			v1Name = name
		case v1RS[name] == "" && counts == "3 3 3":
			v2Name = name
		}
	}
	if len(rs) != 2 || v1Name == "" || v2Name == "" {
		t.Fatalf("get rs after the rollout: %v, want the old one (%v) at 0 and a new one at 3", rs, v1RS)
	}
	describe := e.ok("describe", "deploy", "kubia")
	for _, want := range []string{
		"Conditions:",
		"Available      True    MinimumReplicasAvailable",
		"Progressing    True    NewReplicaSetAvailable",
		"NewReplicaSet:   " + v2Name + " (3/3 replicas created)",
		"Scaled up replica set " + v2Name + " to 1\n",
		"Scaled down replica set " + v1Name + " to 0 from 1\n",
	} {
		if !strings.Contains(describe, want) {
			t.Errorf("describe deploy kubia: no %q in:\n%s", want, describe)
		}
	}

	e.rolloutUnderLoad(url, "undo to v1", "v1", "deployment.apps/kubia rolled back\n", "rollout", "undo", "deployment/kubia")
	if rs := e.replicaSets(); rs[v1Name] != "3 3 3" || rs[v2Name] != "0 0 0" || len(rs) != 2 {
		t.Errorf("get rs after undo: %v, want %s back at 3", rs, v1Name)
	}

	// The plan of v1 -> v2 names the ReplicaSet the rollout made.
	plan := e.ok("rollout", "plan", "deployment/kubia", "--image=nodejs=luksa/kubia:v2")
	steps := strings.Split(strings.TrimSpace(plan), "\n")
	if len(steps) != 7 || !strings.HasPrefix(steps[0], "STEP") ||
		!regexp.MustCompile(`^1\s+scale up `+v2Name+` to 1\s+3\s+1\s+3\s+4$`).MatchString(steps[1]) ||
		!regexp.MustCompile(`^6\s+scale down `+v1Name+` to 0\s+0\s+3\s+3\s+3$`).MatchString(steps[6]) {
		t.Errorf("rollout plan:\n%s", plan)
	}

	// Paused, a new image changes nothing until resume.
	if out := e.ok("rollout", "pause", "deployment/kubia"); out != "deployment.apps/kubia paused\n" {
		t.Errorf("rollout pause: %q", out)
	}
	e.ok("set", "image", "deployment/kubia", "nodejs=luksa/kubia:v2")
	before := containerIDs(t, e.pods())
	time.Sleep(2 * time.Second)
	if after := containerIDs(t, e.pods()); !maps.Equal(before, after) {
		t.Errorf("a paused deployment rolled out: pods %v, then %v", before, after)
	}
	answers(t, url, "v1", 6)
	if out := e.ok("rollout", "resume", "deployment/kubia"); out != "deployment.apps/kubia resumed\n" {
		t.Errorf("rollout resume: %q", out)
	}
	e.rolloutStatus()
	answers(t, url, "v2", 6)
}

// A daemon killed one second into a rollout: the next one finishes it and
// leaves exactly the 3 new pods.
func TestE2EDaemonCrashMidRollout(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	url := e.up(kubiaDir, "deployment.apps/kubia created")
	e.ok("set", "image", "deployment/kubia", "nodejs=luksa/kubia:v2")
	time.Sleep(time.Second)
	e.killDaemon()
	t.Logf("containers when the daemon died: %d", len(e.containers()))
	if out, errOut, code := e.run("up"); code != 0 {
		t.Fatalf("up after the crash: exit %d\n%s%s", code, out, errOut)
	}
	e.rolloutStatus()
	pods := e.waitPods(3, "3 v2 pods", func(ps []api.Pod) bool {
		for _, p := range ps {
			if p.Spec.Containers[0].Image != "luksa/kubia:v2" {
				return false
			}
		}
		return true
	})
	ids := containerIDs(t, pods)
	answers(t, url, "v2", 12)
	e.waitFor("exactly the 3 v2 containers on the engine", func() bool {
		ctrs := e.containers()
		if len(ctrs) != 3 {
			return false
		}
		for _, c := range ctrs {
			if ids[c.Name] != "docker://"+c.ID || c.Image != "luksa/kubia:v2" {
				return false
			}
		}
		return true
	})
	if rs := e.replicaSets(); len(rs) != 2 {
		t.Errorf("get rs: %v, want the old and the new ReplicaSet", rs)
	}
}

// The seed's legacy path: the CLI is killed half-way and the daemon finishes
// the rolling update; running the same command again follows it from the
// start.
func TestE2ELegacyRollingUpdate(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	url := e.up(seedRCv1, "replicationcontroller/kubia-v1 created")
	load := startLoad(t, url)
	time.Sleep(time.Second)

	const notice = `Command "rolling-update" is deprecated, use "rollout" instead` + "\n"
	want := []string{
		"Created kubia-v2",
		"Scaling up kubia-v2 from 0 to 3, scaling down kubia-v1 from 3 to 0 (keep 3 pods available, don't exceed 4 pods)",
		"Scaling kubia-v2 up to 1",
		"Scaling kubia-v1 down to 2",
		"Scaling kubia-v2 up to 2",
		"Scaling kubia-v1 down to 1",
		"Scaling kubia-v2 up to 3",
		"Scaling kubia-v1 down to 0",
		"Update succeeded. Deleting kubia-v1",
		`replicationcontroller/kubia-v2 rolling updated to "kubia-v2"`,
	}
	args := []string{"rolling-update", "kubia-v1", "kubia-v2", "--image=luksa/kubia:v2"}
	ctx, cancel := context.WithTimeout(context.Background(), cliBound)
	defer cancel()
	var out, errOut bytes.Buffer
	first := e.command(ctx, args...)
	first.Stdout, first.Stderr = &out, &errOut
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// Killed once the daemon has taken the update over (the new controller
	// exists), however slow the machine: not after a fixed time, which a
	// loaded machine can spend before the CLI has even asked.
	e.waitFor("the daemon to start the rolling update", func() bool {
		_, _, code := e.run("get", "rc", "kubia-v2")
		return code == 0
	})
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	if errOut.String() != notice {
		t.Errorf("rolling-update stderr = %q, want the deprecation notice", errOut.String())
	}
	// On a loaded machine (CI runs this binary under -race) the client may
	// not have printed anything yet; what it did print is the seed's start.
	var got []string
	if out.Len() > 0 {
		got = strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	}
	t.Logf("rolling-update printed %d lines before it was killed", len(got))
	if len(got) >= len(want) || !slices.Equal(got, want[:len(got)]) {
		t.Errorf("rolling-update killed half-way printed:\n%s\nwant the first lines of:\n%s", out.String(), strings.Join(want, "\n"))
	}

	// With no client attached, the daemon carries on.
	e.waitFor("kubia-v2 scaled past 1 with no client", func() bool {
		return regexp.MustCompile(`(?m)^kubia-v2\s+[23]\s`).MatchString(e.ok("get", "rc"))
	})
	again, errAgain, code := e.run(args...)
	if code != 0 || errAgain != notice || again != strings.Join(want, "\n")+"\n" {
		t.Errorf("rolling-update again: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errAgain, again, strings.Join(want, "\n"))
	}
	e.waitFor("only kubia-v2, 3 ready", func() bool {
		return regexp.MustCompile(`^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE\nkubia-v2\s+3\s+3\s+3\s+\d+s\n$`).MatchString(e.ok("get", "rc"))
	})
	time.Sleep(500 * time.Millisecond)
	load.Check(t, "rolling-update")
	answers(t, url, "v2", 12)
	e.waitFor("3 containers on the engine", func() bool { return len(e.containers()) == 3 })
}

// down removes every container and the network of its home, and the daemon
// exits.
func TestE2EDown(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	e.up(seedRCv1, "replicationcontroller/kubia-v1 created")
	pid := e.daemonPID()
	if pid == 0 {
		t.Fatal("no daemon pid")
	}
	if n := len(e.containers()); n != 3 {
		t.Fatalf("%d containers, want 3", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if nets, err := e.engine.ListNetworks(ctx, e.match()); err != nil || len(nets) != 1 || nets[0].Name != e.network {
		t.Fatalf("networks of %s: %v %v, want %s", e.instance, nets, err, e.network)
	}

	out := e.ok("down")
	if !strings.Contains(out, fmt.Sprintf("mini-deploy daemon (pid %d) stopped", pid)) {
		t.Errorf("down: %q", out)
	}
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Errorf("the daemon (pid %d) still runs after down: %v", pid, err)
	}
	if n := len(e.containers()); n != 0 {
		t.Errorf("%d containers left after down", n)
	}
	// A context of its own: down itself may take longer than the first one's
	// ten seconds on a busy machine.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if nets, err := e.engine.ListNetworks(ctx2, e.match()); err != nil || len(nets) != 0 {
		t.Errorf("networks left after down: %v %v", nets, err)
	}
	for _, name := range []string{socketName, pidName} {
		if _, err := os.Stat(filepath.Join(e.home, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after down: %v", name, err)
		}
	}
	if _, errOut, code := e.run("get", "pods"); code != 1 || !strings.Contains(errOut, "cannot reach the mini-deploy daemon") {
		t.Errorf("get pods after down: exit %d %q", code, errOut)
	}
	if out := e.ok("down"); !strings.Contains(out, "nothing to do") {
		t.Errorf("a second down: %q", out)
	}
}

// down works when state.db is corrupt: no daemon can start from it, so down
// removes the instance's containers and network, found by their label, and
// moves the file aside.
func TestE2EDownWithACorruptStore(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	e.up(seedRCv1, "replicationcontroller/kubia-v1 created", "replicationcontroller/kubia-v1 ready (3/3)")
	if n := len(e.containers()); n != 3 {
		t.Fatalf("%d containers, want 3", n)
	}
	e.killAll()
	corruptStore(t, e.home)

	out := e.ok("down")
	db := filepath.Join(e.home, store.DBFile)
	for _, want := range []string{
		db + " is corrupt",
		fmt.Sprintf("Removed 3 containers and 1 network (%s) of instance %s", e.network, e.instance),
		"Moved the corrupt store aside to " + db + ".corrupt-",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("down: no %q in:\n%s", want, out)
		}
	}
	if n := len(e.containers()); n != 0 {
		t.Errorf("%d containers left after down", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if nets, err := e.engine.ListNetworks(ctx, e.match()); err != nil || len(nets) != 0 {
		t.Errorf("networks left after down: %v %v", nets, err)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state.db after down: %v, want it moved aside", err)
	}
	aside, _ := filepath.Glob(db + ".corrupt-*")
	if len(aside) != 1 {
		t.Errorf("moved-aside stores: %v, want one", aside)
	}
	// The next up starts afresh, under the same instance.
	e.up(seedRCv1, "replicationcontroller/kubia-v1 created", "replicationcontroller/kubia-v1 ready (3/3)")
	if n := len(e.containers()); n != 3 {
		t.Errorf("%d containers after a new up, want 3", n)
	}
}
