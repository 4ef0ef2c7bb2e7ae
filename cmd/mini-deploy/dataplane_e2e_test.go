package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// The data plane outlives the control plane. These tests run the real
// binary, its daemon and its data plane processes against the engine, under
// the chaos test's mixed client load (keep-alive GET, new-connection GET,
// POST with and without a body), and print the figures the README quotes.

// kill -9 of the control plane at ten moments, in the middle of rollouts,
// scale-downs and scale-ups: the data plane serves every request meanwhile
// and starts the control plane again by itself, which finishes what the
// dead one began with exactly the desired pods.
func TestE2EControlPlaneKilledUnderLoad(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	url := e.up(kubiaDir, "deployment.apps/kubia created")
	ledger := followPodLogs(t, e.instance)
	load := startMixedLoad(t, url)

	image := "v1"
	var back []time.Duration
	for i := range 10 {
		var during string
		switch i % 3 {
		case 0:
			image = map[string]string{"v1": "v2", "v2": "v1"}[image]
			e.ok("set", "image", "deployment/kubia", "nodejs=luksa/kubia:"+image)
			during = "a rollout to " + image
		case 1:
			e.ok("scale", "deployment/kubia", "--replicas=1")
			during = "a scale-down to 1"
		case 2:
			e.ok("scale", "deployment/kubia", "--replicas=3")
			during = "a scale-up to 3"
		}
		time.Sleep(time.Duration(200+i*150) * time.Millisecond)
		old := e.daemonPID()
		start := time.Now()
		e.killDaemon()
		e.waitFor("the control plane to be started again by the data plane", func() bool {
			if pid := e.daemonPID(); pid == 0 || pid == old {
				return false
			}
			_, _, code := e.run("get", "deployment", "kubia")
			return code == 0
		})
		back = append(back, time.Since(start))
		t.Logf("kill -9 of the control plane during %s: back and answering in %s", during, back[i].Round(time.Millisecond))
	}

	e.ok("scale", "deployment/kubia", "--replicas=3")
	e.ok("set", "image", "deployment/kubia", "nodejs=luksa/kubia:v2")
	e.rolloutStatus()
	e.waitConverged(3, "luksa/kubia:v2")
	res := load.stop()
	acted := ledger.stop()

	for _, f := range res.failures {
		t.Errorf("a %s failed at %s: %s", f.kind, f.at.Format("15:04:05.000"), f.err)
	}
	for id, pods := range acted {
		if len(pods) > 1 {
			t.Errorf("request %s reached %d pods: %v", id, len(pods), pods)
		}
	}
	slices.Sort(back)
	t.Logf("control plane killed 10 times under load: %d requests, %d failed; back in %s (median), %s (slowest)",
		res.total, len(res.failures), back[len(back)/2].Round(time.Millisecond), back[len(back)-1].Round(time.Millisecond))
}

// While the control plane is stopped (SIGSTOP: it holds its sockets and
// answers nothing), a pod is killed and another paused for 20 s; then a
// third is paused for 20 s with the control plane back. The data plane takes
// each out by itself: no idempotent request fails, and none waits longer than
// the Service's response-header timeout before it is sent elsewhere.
func TestE2EDataPlaneAloneShieldsClients(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	url := e.up(kubiaDir, "deployment.apps/kubia created")
	const headerTimeout = 2 * time.Second
	e.ok("annotate", "service/kubia", fmt.Sprintf("%s=%s", api.AnnotationResponseHeaderTimeout, headerTimeout))
	pods := e.waitPods(3, "3 ready pods", nil)
	ids := containerIDs(t, pods)
	var victims []string
	for _, p := range pods {
		victims = append(victims, strings.TrimPrefix(ids[p.Name], "docker://"))
	}
	time.Sleep(time.Second) // the annotation reaches the data plane
	load := startMixedLoad(t, url)
	time.Sleep(2 * time.Second)

	daemon := e.daemonPID()
	if err := syscall.Kill(daemon, syscall.SIGSTOP); err != nil {
		t.Fatalf("kill -STOP %d: %v", daemon, err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(daemon, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume) // before the cleanup's down, whatever fails
	t.Logf("control plane (pid %d) stopped", daemon)
	dockerCmd(t, "kill", victims[0])
	time.Sleep(3 * time.Second)
	pause := func(id string) {
		dockerCmd(t, "pause", id)
		time.Sleep(20 * time.Second)
		dockerCmd(t, "unpause", id)
	}
	pause(victims[1])
	time.Sleep(2 * time.Second)
	resume()
	t.Logf("control plane resumed")

	e.waitPods(3, "3 ready pods again", nil)
	pods = readyPods(e.pods())
	var third string
	for _, p := range pods {
		if id := strings.TrimPrefix(containerIDs(t, []api.Pod{p})[p.Name], "docker://"); id != victims[0] && id != victims[1] {
			third = id
		}
	}
	if third == "" {
		t.Fatalf("no pod left that was neither killed nor paused among %v", containerIDs(t, pods))
	}
	pause(third)
	time.Sleep(3 * time.Second)
	res := load.stop()

	failed := map[string]int{}
	for _, f := range res.failures {
		failed[f.kind]++
		if f.idempotent() {
			t.Errorf("a %s failed at %s: %s", f.kind, f.at.Format("15:04:05.000"), f.err)
		}
	}
	// A request on a paused pod waits for the response-header timeout, then
	// goes to another pod: the bound is that timeout and the time another
	// pod takes, given a generous second or three on a loaded machine.
	bound := headerTimeout + 3*time.Second
	for kind, d := range res.slowest {
		if strings.HasSuffix(kind, "GET") && d > bound {
			t.Errorf("the slowest %s took %s, more than the Service's response-header timeout %s and a margin", kind, d, headerTimeout)
		}
	}
	t.Logf("a pod killed and one paused 20 s with the control plane stopped, one paused 20 s with it running: %d requests, failed by kind %v (a POST may fail only if it was in flight on a pod as it was killed or paused); slowest by kind %v",
		res.total, failed, roundAll(res.slowest))
}

// mini-deploy upgrade to a rebuilt binary under load: the new data plane
// takes the listening sockets over and the control plane restarts from the
// new binary; no request fails and both processes report the new version.
func TestE2EUpgradeUnderLoad(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	next, err := e2eNextBinary()
	if err != nil {
		t.Fatal(err)
	}
	url := e.up(kubiaDir, "deployment.apps/kubia created")
	e.waitPods(3, "3 ready pods", nil)
	oldPlanes := e.dataPlanePIDs()
	load := startMixedLoad(t, url)
	time.Sleep(2 * time.Second)

	runNext := func(args ...string) (string, error) {
		cmd := exec.Command(next, append([]string{"--home", e.home}, args...)...)
		cmd.Env = append(append(os.Environ(), "MINI_DEPLOY_HOME="+e.home), e.env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// up from the new binary notices the old processes.
	note := `note: the control plane runs dev, the data plane (pid %d) runs dev, and this binary is ` + nextVersion + `: "mini-deploy upgrade" hands over to it without a gap`
	if out, err := runNext("up"); err != nil || len(oldPlanes) != 1 || !strings.Contains(out, fmt.Sprintf(note, oldPlanes[0])) {
		t.Errorf("up from the new binary, before the upgrade: %v\n%s", err, out)
	}
	out, err := runNext("upgrade")
	if err != nil {
		t.Fatalf("upgrade: %v\n%s", err, out)
	}
	t.Logf("upgrade:\n%s", out)
	e.waitFor("the old data planes to exit", func() bool {
		for _, pid := range oldPlanes {
			if syscall.Kill(pid, 0) != syscall.ESRCH {
				return false
			}
		}
		return true
	})
	time.Sleep(2 * time.Second)
	res := load.stop()
	for _, f := range res.failures {
		t.Errorf("a %s failed at %s: %s", f.kind, f.at.Format("15:04:05.000"), f.err)
	}

	v := e.ok("version")
	if !strings.Contains(v, "Server Version: "+nextVersion+"\n") {
		t.Errorf("version after the upgrade: the control plane is not %s:\n%s", nextVersion, v)
	}
	planes := regexp.MustCompile(`(?m)^Data plane: pid (\d+), version (\S+)$`).FindAllStringSubmatch(v, -1)
	if len(planes) != 1 || planes[0][2] != nextVersion {
		t.Errorf("version after the upgrade: want one data plane at %s:\n%s", nextVersion, v)
	}
	answers(t, url, "v1", 6)
	if out, err := runNext("up"); err != nil || strings.Contains(out, "note:") {
		t.Errorf("up from the new binary, after the upgrade: %v\n%s", err, out)
	}
	t.Logf("upgrade under load: %d requests, %d failed", res.total, len(res.failures))
}

// kill -9 of the data plane: the control plane starts another at once and
// pushes it the state. The test prints what that costs: the requests that
// failed, and how long new connections were refused.
func TestE2EDataPlaneKilled(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	url := e.up(kubiaDir, "deployment.apps/kubia created")
	e.waitPods(3, "3 ready pods", nil)
	addr := strings.TrimPrefix(url, "http://")
	planes := e.dataPlanePIDs()
	if len(planes) != 1 {
		t.Fatalf("data planes before the kill: %v, want one", planes)
	}
	load := startMixedLoad(t, url)

	// A prober dials every 5 ms and notes when dials were refused.
	var mu sync.Mutex
	var firstRefused, lastRefused time.Time
	refused := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		deadline := time.Now().Add(loadBound)
		for time.Now().Before(deadline) {
			select {
			case <-stop:
				return
			default:
			}
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				mu.Lock()
				if firstRefused.IsZero() {
					firstRefused = time.Now()
				}
				lastRefused = time.Now()
				refused++
				mu.Unlock()
			} else {
				c.Close()
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	time.Sleep(2 * time.Second)
	if err := syscall.Kill(planes[0], syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 the data plane %d: %v", planes[0], err)
	}
	killed := time.Now()
	e.waitFor("another data plane", func() bool {
		now := e.dataPlanePIDs()
		return len(now) == 1 && now[0] != planes[0]
	})
	// Its socket is up before its listeners: it binds them when the control
	// plane pushes it the state.
	hc := &http.Client{Timeout: time.Second}
	e.waitFor("the Service to answer through the new data plane", func() bool {
		resp, err := hc.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	answers(t, url, "v1", 6)
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	res := load.stop()

	failed := map[string]int{}
	for _, f := range res.failures {
		failed[f.kind]++
	}
	window := time.Duration(0)
	if refused > 0 {
		window = lastRefused.Sub(firstRefused)
	}
	if !lastRefused.IsZero() && time.Since(lastRefused) < 2*time.Second {
		t.Errorf("new connections were still refused %s before the end", time.Since(lastRefused))
	}
	t.Logf("kill -9 of the data plane under load: %d requests, %d failed %v; new connections refused for %s (%d refused dials, the first %s after the kill)",
		res.total, len(res.failures), failed, window.Round(time.Millisecond), refused, firstRefused.Sub(killed).Round(time.Millisecond))
}

func roundAll(m map[string]time.Duration) map[string]string {
	out := map[string]string{}
	for k, d := range m {
		out[k] = d.Round(time.Millisecond).String()
	}
	return out
}

// nextVersion is the version string of the binary TestE2EUpgradeUnderLoad
// upgrades to.
const nextVersion = "v-next"

// e2eNextBinary builds mini-deploy again, with another version string, once.
var e2eNextBinary = sync.OnceValues(func() (string, error) {
	if _, err := e2eBinary(); err != nil { // makes e2eDir
		return "", err
	}
	bin := filepath.Join(e2eDir, "mini-deploy-next")
	if err := buildBinary(bin, "-ldflags", "-X main.version="+nextVersion); err != nil {
		return "", fmt.Errorf("build mini-deploy %s for the upgrade test: %w", nextVersion, err)
	}
	return bin, nil
})
