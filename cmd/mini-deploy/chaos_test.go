package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/mini-deploy/mini-deploy/orchestrator"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// The chaos test: a Deployment of three kubia pods under a mixed client load
// goes through rollouts, undos and scales while, at random moments, the test
// kills a pod, pauses one for longer than its readiness period, cuts one off
// its network, kills the daemon with SIGKILL and starts it again, or cuts the
// daemon's connection to the engine (a socket proxy of the test's own in
// front of the Docker socket). All along and at the end:
//   - no request with an id reaches two pods (each pod logs the ids it acted
//     on; the test follows every pod's log until its container is removed);
//   - every failed request was under way during the window of a fault the
//     test caused (a request sent to a pod as it is cut off its network fails
//     only when the client gives up on it, after the window);
//   - the Deployment converges to its spec, with no container or network
//     left over;
//   - the open files of the daemon and of the data plane do not grow across
//     iterations.
func TestChaos(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	sp := startEngineProxy(t)
	e.env = []string{"DOCKER_HOST=unix://" + sp.path}
	url := e.up(kubiaDir, "deployment.apps/kubia created")

	ledger := followPodLogs(t, e.instance)
	load := startMixedLoad(t, url)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var windows []faultWindow
	faults := map[string]int{}
	fault := func(kind string, do func()) {
		start := time.Now()
		do()
		// A fault's effects last until the data plane has noticed and the
		// pod is out, or the daemon is back and listening: a settle margin.
		windows = append(windows, faultWindow{kind, start.Add(-500 * time.Millisecond), time.Now().Add(8 * time.Second)})
		faults[kind]++
	}
	pickPod := func() (string, string) {
		pods := readyPods(e.pods())
		if len(pods) == 0 {
			return "", ""
		}
		p := pods[rng.IntN(len(pods))]
		return p.Name, strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "docker://")
	}
	image := "v1"
	var fds []int   // the daemon's open files, since it last started
	var dpFds []int // the data plane's
	dataPlane := 0
	const iterations = 10
	// Every kind of fault, twice, in a random order.
	order := rng.Perm(iterations)
	deadline := time.Now().Add(4 * time.Minute)
	for i := range iterations {
		if time.Now().After(deadline) {
			t.Logf("stopping after %d iterations: the time bound", i)
			break
		}
		switch rng.IntN(3) {
		case 0:
			image = map[string]string{"v1": "v2", "v2": "v1"}[image]
			e.ok("set", "image", "deployment/kubia", "nodejs=luksa/kubia:"+image)
		case 1:
			e.ok("scale", "deployment/kubia", fmt.Sprintf("--replicas=%d", 2+rng.IntN(3)))
		case 2:
			if _, _, code := e.run("rollout", "undo", "deployment/kubia"); code == 0 {
				image = "?"
			}
		}
		time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
		switch order[i] % 5 {
		case 0:
			if _, id := pickPod(); id != "" {
				fault("kill a pod", func() { dockerCmd(t, "kill", id) })
			}
		case 1:
			if _, id := pickPod(); id != "" {
				fault("pause a pod", func() {
					dockerCmd(t, "pause", id)
					time.Sleep(3 * time.Second) // past the readiness period
					dockerCmd(t, "unpause", id)
				})
			}
		case 2:
			if _, id := pickPod(); id != "" {
				fault("cut a pod off its network", func() { dockerCmd(t, "network", "disconnect", e.network, id) })
			}
		case 3:
			fault("kill -9 the daemon", func() {
				e.killDaemon()
				if out, errOut, code := e.run("up"); code != 0 {
					t.Fatalf("up after kill -9: exit %d\n%s%s", code, out, errOut)
				}
			})
			fds = nil // a new process
		case 4:
			fault("cut the daemon off the engine", func() {
				sp.sever()
				time.Sleep(3 * time.Second)
				sp.restore()
			})
		}
		if pid := e.daemonPID(); pid > 0 {
			if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
				fds = append(fds, len(ents))
			}
		}
		// The data plane lives through the daemon's kills: its open files
		// (client and pod connections) are the ones a leak would pile up.
		if pids := e.dataPlanePIDs(); len(pids) == 1 {
			if pids[0] != dataPlane {
				dataPlane, dpFds = pids[0], nil
			}
			if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", dataPlane)); err == nil {
				dpFds = append(dpFds, len(ents))
			}
		}
	}
	// Back to a known spec, and let it converge.
	e.ok("scale", "deployment/kubia", "--replicas=3")
	e.ok("set", "image", "deployment/kubia", "nodejs=luksa/kubia:v2")
	e.rolloutStatus()
	time.Sleep(2 * time.Second)
	res := load.stop()
	e.waitConverged(3, "luksa/kubia:v2")
	acted := ledger.stop()

	// Invariants.
	dups := 0
	for id, pods := range acted {
		if len(pods) > 1 {
			dups++
			t.Errorf("request %s reached %d pods: %v", id, len(pods), pods)
		}
	}
	unexplained := 0
	for _, f := range res.failures {
		if !explained(windows, f) {
			unexplained++
			if unexplained <= 10 {
				t.Errorf("a %s sent at %s failed at %s outside every fault window: %s", f.kind, f.sent.Format("15:04:05.000"), f.at.Format("15:04:05.000"), f.err)
			}
		}
	}
	if len(fds) >= 2 && fds[len(fds)-1] > fds[0]+20 {
		t.Errorf("the daemon's open files grew from %d to %d across iterations", fds[0], fds[len(fds)-1])
	}
	// The load holds up to 8 keep-alive connections and one in flight per
	// client, each with a pooled connection to a pod: growth past that is a leak.
	if len(dpFds) >= 2 && dpFds[len(dpFds)-1] > dpFds[0]+40 {
		t.Errorf("the data plane's open files grew from %d to %d across iterations", dpFds[0], dpFds[len(dpFds)-1])
	}
	// No network left over either: exactly the instance's one.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if nets, err := e.engine.ListNetworks(ctx, e.match()); err != nil || len(nets) != 1 {
		t.Errorf("networks of the instance after the chaos: %v %v, want its one", nets, err)
	}
	failedIn := map[string]int{}
	// A failure is put down to the latest fault that began before it.
	for _, f := range res.failures {
		var latest *faultWindow
		for i := range windows {
			if w := &windows[i]; f.during(*w) && (latest == nil || w.start.After(latest.start)) {
				latest = w
			}
		}
		if latest != nil {
			failedIn[latest.kind]++
			t.Logf("a %s sent at %s failed at %s, in the window of %q: %s", f.kind, f.sent.Format("15:04:05.000"), f.at.Format("15:04:05.000"), latest.kind, f.err)
		}
	}
	kinds := make([]string, 0, len(faults))
	for k, n := range faults {
		kinds = append(kinds, fmt.Sprintf("%s: %d (%d failed requests put down to it)", k, n, failedIn[k]))
	}
	sort.Strings(kinds)
	t.Logf("chaos: %d faults (%s); %d requests, %d failed (%d unexplained), %d ids acted on, %d duplicated; daemon fds %v, data plane fds %v",
		len(windows), strings.Join(kinds, ", "), res.total, len(res.failures), unexplained, len(acted), dups, fds, dpFds)
}

// waitConverged waits until the Deployment has n ready pods of image, and
// the engine exactly their n containers: no orphan left.
func (e *e2e) waitConverged(n int, image string) {
	e.t.Helper()
	e.waitPods(n, fmt.Sprintf("%d ready pods of %s", n, image), func(ps []api.Pod) bool {
		for _, p := range ps {
			if p.Spec.Containers[0].Image != image || len(p.Status.ContainerStatuses) == 0 || !p.Status.ContainerStatuses[0].Ready {
				return false
			}
		}
		return true
	})
	e.waitFor(fmt.Sprintf("exactly the %d pods' containers on the engine", n), func() bool { return len(e.containers()) == n })
}

func dockerCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
		t.Logf("docker %s: %v: %s", strings.Join(args, " "), err, out) // the pod may be gone already
	}
}

type faultWindow struct {
	kind       string
	start, end time.Time
}

// explained reports whether f was under way during a fault's window.
func explained(ws []faultWindow, f failure) bool {
	for _, w := range ws {
		if f.during(w) {
			return true
		}
	}
	return false
}

// engineProxy is a socket of the test's own in front of the Docker socket,
// which the test can sever (every connection closed, new ones refused) and
// restore: the daemon losing its engine, without touching the engine.
type engineProxy struct {
	path string
	mu   sync.Mutex
	cut  bool
	open map[net.Conn]struct{}
}

func startEngineProxy(t *testing.T) *engineProxy {
	t.Helper()
	dir, err := os.MkdirTemp("", "md-engine-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sp := &engineProxy{path: filepath.Join(dir, "docker.sock"), open: map[net.Conn]struct{}{}}
	ln, err := net.Listen("unix", sp.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); sp.sever() })
	target := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		target = strings.TrimPrefix(h, "unix://")
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sp.mu.Lock()
			if sp.cut {
				sp.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("unix", target)
			if err != nil {
				sp.mu.Unlock()
				c.Close()
				continue
			}
			sp.open[c], sp.open[up] = struct{}{}, struct{}{}
			sp.mu.Unlock()
			go func() {
				done := make(chan struct{}, 2)
				go func() { io.Copy(up, c); done <- struct{}{} }()
				go func() { io.Copy(c, up); done <- struct{}{} }()
				<-done
				c.Close()
				up.Close()
				sp.mu.Lock()
				delete(sp.open, c)
				delete(sp.open, up)
				sp.mu.Unlock()
			}()
		}
	}()
	return sp
}

func (sp *engineProxy) sever() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.cut = true
	for c := range sp.open {
		c.Close()
	}
}

func (sp *engineProxy) restore() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.cut = false
}

// podLedger follows the log of every container of an instance, from its
// start until it is removed, and collects which pods acted on which ids.
type podLedger struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	acted  map[string][]string // id -> pods
}

var actedLine = regexp.MustCompile(`acted on \S+ \S+ id=(\S+)`)

func followPodLogs(t *testing.T, instance string) *podLedger {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	l := &podLedger{cancel: cancel, acted: map[string][]string{}}
	following := map[string]bool{}
	var fmu sync.Mutex
	follow := func(id, name string) {
		fmu.Lock()
		defer fmu.Unlock()
		if following[id] {
			return
		}
		following[id] = true
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			// Followed with its own context: the log of a container is read
			// to its end even after the test stops watching for new ones.
			rc, err := cli.ContainerLogs(context.Background(), id, container.LogsOptions{ShowStdout: true, Follow: true})
			if err != nil {
				return
			}
			defer rc.Close()
			pr, pw := io.Pipe()
			go func() { stdcopy.StdCopy(pw, io.Discard, rc); pw.Close() }()
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				if m := actedLine.FindStringSubmatch(sc.Text()); m != nil {
					l.mu.Lock()
					l.acted[m[1]] = append(l.acted[m[1]], name)
					l.mu.Unlock()
				}
			}
		}()
	}
	f := filters.NewArgs(filters.Arg("type", "container"), filters.Arg("event", "start"),
		filters.Arg("label", orchestrator.LabelInstance+"="+instance))
	msgs, errs := cli.Events(ctx, events.ListOptions{Filters: f})
	// The containers already running.
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", orchestrator.LabelInstance+"="+instance))})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		follow(c.ID, strings.TrimPrefix(c.Names[0], "/"))
	}
	go func() {
		for {
			select {
			case m := <-msgs:
				follow(m.Actor.ID, m.Actor.Attributes["name"])
			case <-errs:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return l
}

// stop waits until the log of every container followed has ended (the
// containers of removed pods) or a bound passes, and returns the ledger.
func (l *podLedger) stop() map[string][]string {
	l.cancel()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second): // the live pods' logs never end
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string][]string, len(l.acted))
	for k, v := range l.acted {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// mixedLoad sends, until stopped, keep-alive GETs, GETs on new connections,
// POSTs with a body and empty-bodied POSTs, each POST with a unique id.
type mixedLoad struct {
	stopCh   chan struct{}
	wg       sync.WaitGroup
	total    atomic.Int64
	mu       sync.Mutex
	failures []failure
	slowest  map[string]time.Duration // the longest request of each kind
}

type failure struct {
	kind string
	sent time.Time // when the request began
	at   time.Time // when it failed
	err  string
}

// during reports whether the request was under way at some time of w: a
// request sent into a fault may fail only when the client gives up on it.
func (f failure) during(w faultWindow) bool { return !f.at.Before(w.start) && !f.sent.After(w.end) }

type loadResult struct {
	total    int64
	failures []failure
	slowest  map[string]time.Duration
}

// idempotent reports whether a request of this kind may be sent again (a GET).
func (f failure) idempotent() bool { return strings.HasSuffix(f.kind, "GET") }

func startMixedLoad(t *testing.T, url string) *mixedLoad {
	l := &mixedLoad{stopCh: make(chan struct{}), slowest: map[string]time.Duration{}}
	keepAlive := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	fresh := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var seq atomic.Int64
	kinds := []struct {
		name string
		do   func() (*http.Response, error)
	}{
		{"keep-alive GET", func() (*http.Response, error) { return keepAlive.Get(url) }},
		{"new-connection GET", func() (*http.Response, error) { return fresh.Get(url) }},
		{"POST", func() (*http.Response, error) {
			id := fmt.Sprintf("p-%d", seq.Add(1))
			req, _ := http.NewRequest(http.MethodPost, url+"/orders", strings.NewReader("order "+id))
			req.Header.Set("X-Request-Id", id)
			return keepAlive.Do(req)
		}},
		{"empty POST", func() (*http.Response, error) {
			id := fmt.Sprintf("e-%d", seq.Add(1))
			req, _ := http.NewRequest(http.MethodPost, url+"/orders/pay", nil)
			req.Header.Set("X-Request-Id", id)
			return keepAlive.Do(req)
		}},
	}
	for _, k := range kinds {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			// Bounded: at most 20,000 requests a kind, and the time the
			// test runs (its stop).
			for range 20000 {
				select {
				case <-l.stopCh:
					return
				default:
				}
				start := time.Now()
				resp, err := k.do()
				l.total.Add(1)
				msg := ""
				if err != nil {
					msg = err.Error()
				} else {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						msg = resp.Status
					}
				}
				took := time.Since(start)
				l.mu.Lock()
				if msg != "" {
					l.failures = append(l.failures, failure{k.name, start, time.Now(), msg})
				}
				l.slowest[k.name] = max(l.slowest[k.name], took)
				l.mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	t.Cleanup(func() {
		select {
		case <-l.stopCh:
		default:
			close(l.stopCh)
		}
		l.wg.Wait()
	})
	return l
}

func (l *mixedLoad) stop() loadResult {
	close(l.stopCh)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return loadResult{total: l.total.Load(), failures: append([]failure(nil), l.failures...), slowest: maps.Clone(l.slowest)}
}
