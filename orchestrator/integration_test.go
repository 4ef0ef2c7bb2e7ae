package orchestrator_test

// Integration tests on the real Docker engine, through the deploytest kit:
// the seed's chapters, each under client load, with zero failed requests
// as the bar. They skip without an engine, except under CI=true.

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/deploytest"
	"github.com/mini-deploy/mini-deploy/loadgen"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/client"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

const (
	seedV1      = "../examples/seed/rc-v1.yaml"
	seedV2      = "../examples/seed/rc-v2.yaml"
	kubiaDeploy = "../examples/kubia/kubia.yaml"
)

var kubiaImages = deploytest.WithImages("luksa/kubia:v1", "luksa/kubia:v2", "luksa/kubia:broken")

// mixedLoad starts the issues' client mix (8 keep-alive GET, 4
// new-connection GET, 2 POST clients) for at most max.
func mixedLoad(env *deploytest.Env, url string, max time.Duration) *deploytest.LoadRun {
	opts := deploytest.IssueMix
	opts.Duration = max
	return env.StartLoad(url, opts)
}

// onlyVersion sends a few requests and fails unless every answer names version.
func onlyVersion(t *testing.T, url, version string) map[string]int {
	t.Helper()
	s, err := loadgen.Run(context.Background(), loadgen.Options{URL: url, Requests: 60, Concurrency: 4, NewConnections: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Failed != 0 || len(s.ByVersion) != 1 || s.ByVersion[version] != s.Requests {
		t.Fatalf("want only %s answers, got %v (failed %d: %v)", version, s.ByVersion, s.Failed, s.Errors)
	}
	return s.ByPod
}

func TestSeedReplicationControllerAndService(t *testing.T) {
	t.Parallel()
	env := deploytest.Start(t, kubiaImages, deploytest.WithManifests(seedV1))
	pods := env.Pods("app=kubia")
	if len(pods) != 3 {
		t.Fatalf("%d pods, want 3", len(pods))
	}
	names := map[string]bool{}
	for _, p := range pods {
		if !strings.HasPrefix(p.Name, "kubia-v1-") {
			t.Errorf("pod %q is not named kubia-v1-xxxxx", p.Name)
		}
		names[p.Name] = true
	}
	byPod := onlyVersion(t, env.ServiceURL("kubia"), "v1")
	for pod := range byPod {
		if !names[pod] {
			t.Errorf("answer from pod %q, which is not one of %v: hostname must equal the pod name", pod, names)
		}
	}
	if len(byPod) != 3 {
		t.Errorf("answers came from %d pods (%v), want all 3", len(byPod), byPod)
	}
}

// Exec runs in the pod's own container: a second kubia there finds the
// port taken, and a shell that a FROM-scratch image lacks is the engine's
// exit code 126, as with docker exec.
func TestExecInAPod(t *testing.T) {
	t.Parallel()
	env := deploytest.Start(t, kubiaImages, deploytest.WithManifests(seedV1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pod := env.Pods("app=kubia")[0].Name
	var out strings.Builder
	res, err := env.Orch.Exec(ctx, "default", pod, []string{"/kubia"}, &out)
	if err != nil || res.ExitCode != 1 || !strings.Contains(out.String(), "address already in use") {
		t.Errorf("exec /kubia: %d %q %v; want exit 1, address already in use", res.ExitCode, out.String(), err)
	}
	out.Reset()
	res, err = env.Orch.Exec(ctx, "default", pod, []string{"sh"}, &out)
	if err != nil || res.ExitCode != 126 || !strings.Contains(out.String(), "executable file not found") {
		t.Errorf("exec sh: %d %q %v; want exit 126, executable file not found", res.ExitCode, out.String(), err)
	}
	_, err = env.Orch.Exec(ctx, "default", "kubia-v1-nope", []string{"ls"}, io.Discard)
	if err == nil || err.Error() != `pods "kubia-v1-nope" not found` {
		t.Errorf("exec in a missing pod: %v", err)
	}
}

func TestPublishedPortsMode(t *testing.T) {
	t.Parallel()
	env := deploytest.Start(t, kubiaImages, deploytest.WithManifests(seedV1), deploytest.WithPublishPorts())
	byPod := onlyVersion(t, env.ServiceURL("kubia"), "v1")
	if len(byPod) != 3 {
		t.Errorf("answers came from %d pods (%v), want all 3", len(byPod), byPod)
	}
	for _, p := range env.Pods("app=kubia") {
		c, err := env.Engine.Inspect(context.Background(), strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "docker://"))
		if err != nil {
			t.Fatal(err)
		}
		addr, ok := c.HostPorts[8080]
		if !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("pod %s: port 8080 published at %q, want 127.0.0.1:<port> (the image EXPOSEs it)", p.Name, addr)
		}
	}
}

func TestSelfHealing(t *testing.T) {
	t.Parallel()
	env := deploytest.Start(t, kubiaImages, deploytest.WithManifests(seedV1))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// docker rm -f: a replacement pod is ready.
	victim := env.Pods("app=kubia")[0]
	id := strings.TrimPrefix(victim.Status.ContainerStatuses[0].ContainerID, "docker://")
	start := time.Now()
	if err := env.Engine.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	readyWithout := func(gone string) func() bool {
		return func() bool {
			ready := 0
			for _, p := range env.Pods("app=kubia") {
				if p.Name == gone {
					return false
				}
				if p.Status.ContainerStatuses[0].Ready {
					ready++
				}
			}
			return ready == 3
		}
	}
	if err := env.WaitFor(ctx, "a replacement pod", readyWithout(victim.Name)); err != nil {
		t.Fatal(err)
	}
	t.Logf("self-healing: removed pod replaced and ready in %v", time.Since(start).Round(time.Millisecond))

	// docker kill: restarted in place, RESTARTS 1.
	victim = env.Pods("app=kubia")[0]
	if err := env.KillPod(victim.Name); err != nil {
		t.Fatal(err)
	}
	err := env.WaitFor(ctx, "restart in place", func() bool {
		for _, p := range env.Pods("app=kubia") {
			if p.Name == victim.Name {
				cs := p.Status.ContainerStatuses[0]
				return cs.RestartCount == 1 && cs.Ready && cs.ContainerID == victim.Status.ContainerStatuses[0].ContainerID
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, n := range []int32{5, 1} {
		if err := env.Scale("rc/kubia-v1", n); err != nil {
			t.Fatal(err)
		}
		if err := env.WaitReady(ctx, "rc/kubia-v1"); err != nil {
			t.Fatal(err)
		}
		if err := env.WaitFor(ctx, fmt.Sprintf("%d pods", n), func() bool { return len(env.Pods("app=kubia")) == int(n) }); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBlueGreenSetSelectorUnderLoad(t *testing.T) {
	t.Parallel()
	env := deploytest.Start(t, kubiaImages, deploytest.WithManifests(seedV1, seedV2))
	url := env.ServiceURL("kubia")
	load := mixedLoad(env, url, 30*time.Second)
	time.Sleep(2500 * time.Millisecond)
	if _, err := env.Orch.SetSelector(context.Background(), "default", "kubia", map[string]string{"app": "kubia-v2"}, ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	byVersion := load.Check(t, "set selector").ByVersion
	if byVersion["v1"] == 0 || byVersion["v2"] == 0 {
		t.Errorf("the load should see v1 before the switch and v2 after: %v", byVersion)
	}
	onlyVersion(t, url, "v2")
}

func TestKillAndScaleDownUnderLoad(t *testing.T) {
	t.Parallel()
	env := deploytest.Start(t, kubiaImages, deploytest.WithManifests(seedV1))
	url := env.ServiceURL("kubia")

	// docker kill under load: GETs are retried on another pod.
	load := mixedLoad(env, url, 30*time.Second)
	time.Sleep(time.Second)
	if err := env.KillPod(env.Pods("app=kubia")[0].Name); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	groups, err := load.Groups()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{deploytest.GroupKeepAlive, deploytest.GroupNewConnections} {
		if s := groups[name]; s.Failed != 0 || s.Requests == 0 {
			t.Errorf("docker kill: %s clients saw %d failed of %d: %v", name, s.Failed, s.Requests, s.Errors)
		}
	}
	posts := groups[deploytest.GroupPosts]
	t.Logf("docker kill: POST clients saw %d failed of %d (a POST in flight on a killed pod cannot be retried)", posts.Failed, posts.Requests)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := env.WaitReady(ctx, "rc/kubia-v1"); err != nil {
		t.Fatal(err)
	}
	// Scale 3 -> 1 under load: drained before SIGTERM, so no method fails.
	load = mixedLoad(env, url, 30*time.Second)
	time.Sleep(time.Second)
	if err := env.Scale("rc/kubia-v1", 1); err != nil {
		t.Fatal(err)
	}
	if err := env.WaitFor(ctx, "1 pod", func() bool { return len(env.Pods("app=kubia")) == 1 }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	load.Check(t, "scale 3 -> 1")
}

// sampler records the most pods and the fewest ready pods seen.
type sampler struct {
	mu              sync.Mutex
	maxPods, minRdy int
	stop            chan struct{}
	done            chan struct{}
}

func startSampler(env *deploytest.Env, selector string) *sampler {
	s := &sampler{minRdy: 1 << 30, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			pods, ready := 0, 0
			for _, p := range env.Pods(selector) {
				if p.DeletionTimestamp != nil {
					continue
				}
				pods++
				if p.Status.ContainerStatuses[0].Ready {
					ready++
				}
			}
			s.mu.Lock()
			s.maxPods, s.minRdy = max(s.maxPods, pods), min(s.minRdy, ready)
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *sampler) finish() (maxPods, minReady int) {
	close(s.stop)
	<-s.done
	return s.maxPods, s.minRdy
}

func rollout(t *testing.T, env *deploytest.Env, change func() error, wantVersion string) {
	t.Helper()
	url := env.ServiceURL("kubia")
	load := mixedLoad(env, url, 90*time.Second)
	s := startSampler(env, "app=kubia")
	time.Sleep(time.Second)
	if err := change(); err != nil {
		t.Fatal(err)
	}
	// Seconds here; CI runs it beside every other package under -race,
	// where a rollout has taken 50 s.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := env.WaitReady(ctx, "deployment/kubia"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	maxPods, minReady := s.finish()
	load.Check(t, "rollout to "+wantVersion)
	if maxPods > 4 || minReady < 3 {
		t.Errorf("during the rollout: at most %d pods (want <= 4), at least %d ready (want >= 3)", maxPods, minReady)
	}
	onlyVersion(t, url, wantVersion)
	// The last old pod may still be draining when the rollout is done, as
	// in Kubernetes; it is gone soon after. The wait has its own budget: a
	// slow rollout on a busy machine must not leave it none.
	gone, cancelGone := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelGone()
	if err := env.WaitFor(gone, "3 pods", func() bool { return len(env.Pods("app=kubia")) == 3 }); err != nil {
		for _, p := range env.Pods("app=kubia") {
			t.Logf("pod %s: deleting=%v ready=%v", p.Name, p.DeletionTimestamp != nil, p.Status.ContainerStatuses[0].Ready)
		}
		t.Error(err)
	}
}

func TestDeploymentRolloutAndUndoUnderLoad(t *testing.T) {
	t.Parallel()
	env := deploytest.Start(t, kubiaImages, deploytest.WithManifests(kubiaDeploy))
	rollout(t, env, func() error { return env.SetImage("deployment/kubia", "nodejs", "luksa/kubia:v2") }, "v2")
	rollout(t, env, func() error {
		_, err := env.Orch.Rollout(context.Background(), server.RolloutRequest{Action: server.RolloutUndo, Namespace: "default", Name: "kubia"})
		return err
	}, "v1")
}

func TestDefaultStrategyWithoutProbeUnderLoad(t *testing.T) {
	t.Parallel()
	env := deploytest.Start(t, kubiaImages, deploytest.WithManifests("../examples/seed/deployment.yaml"))
	svc, err := api.DecodeManifests("svc.yaml", []byte(`apiVersion: v1
kind: Service
metadata:
  name: kubia
spec:
  selector:
    app: kubia
  ports:
  - port: 80
    targetPort: 8080
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := env.ApplyObjects(svc...); err != nil {
		t.Fatal(err)
	}
	url := env.ServiceURL("kubia")
	load := mixedLoad(env, url, 60*time.Second)
	time.Sleep(time.Second)
	if err := env.SetImage("deployment/kubia", "nodejs", "luksa/kubia:v2"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := env.WaitReady(ctx, "deployment/kubia"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	load.Check(t, "default strategy rollout")
	onlyVersion(t, url, "v2")
}

func TestStalledRolloutRollsBackByItself(t *testing.T) {
	t.Parallel()
	for _, image := range []string{"luksa/kubia:does-not-exist", "luksa/kubia:broken"} {
		t.Run(strings.TrimPrefix(image, "luksa/kubia:"), func(t *testing.T) {
			t.Parallel()
			env := deploytest.Start(t, kubiaImages, deploytest.WithManifests(kubiaDeploy))
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			// A short deadline and the auto-rollback annotation.
			obj, err := env.Orch.Get(ctx, api.KindDeployment, "default", "kubia")
			if err != nil {
				t.Fatal(err)
			}
			d := obj.(*api.Deployment)
			deadline := int32(4)
			d.Spec.ProgressDeadlineSeconds = &deadline
			d.Annotations = map[string]string{api.AnnotationAutoRollback: "true"}
			d.Spec.Template.Spec.Containers[0].Image = image
			url := env.ServiceURL("kubia")
			load := mixedLoad(env, url, 60*time.Second)
			time.Sleep(500 * time.Millisecond)
			changed := time.Now()
			if err := env.ApplyObjects(d); err != nil {
				t.Fatal(err)
			}
			// The condition lasts only until the rollback starts the next
			// rollout, so the event that records it is what the test waits for.
			rolledBack := func() string {
				events, _ := env.Orch.Events(ctx, "default", &api.ObjectReference{Kind: api.KindDeployment, Name: "kubia"})
				for _, e := range events {
					if e.Reason == "RolledBack" {
						return e.Message
					}
				}
				return ""
			}
			if err := env.WaitFor(ctx, "a RolledBack event", func() bool { return rolledBack() != "" }); err != nil {
				t.Fatal(err)
			}
			if msg := rolledBack(); !strings.Contains(msg, "progress deadline exceeded") {
				t.Errorf("RolledBack event %q does not say the progress deadline passed", msg)
			}
			err = env.WaitFor(ctx, "the rollback to v1", func() bool {
				obj, _ := env.Orch.Get(ctx, api.KindDeployment, "default", "kubia")
				d := obj.(*api.Deployment)
				_, done, _ := env.RolloutStatus(ctx, "kubia")
				return d.Spec.Template.Spec.Containers[0].Image == "luksa/kubia:v1" && done
			})
			if err != nil {
				t.Fatal(err)
			}
			// `rollout status` started before the change reports the failure,
			// though the Deployment is complete again on v1.
			resp, err := env.Orch.Rollout(ctx, server.RolloutRequest{Action: server.RolloutStatus, Namespace: "default", Name: "kubia", Since: changed})
			if err != nil || !resp.Failed || !strings.Contains(resp.Message, "rolled back") {
				t.Errorf("rollout status since the change = %+v, %v; want a failure saying it rolled back", resp, err)
			}
			time.Sleep(time.Second)
			load.Check(t, "stalled rollout to "+image)
			onlyVersion(t, url, "v1")
		})
	}
}

// An exec's output is streamed, not collected: a command printing 256 MiB
// through the daemon's API costs the daemon a few MB at most.
func TestExecOutputIsStreamedNotHeld(t *testing.T) {
	t.Parallel()
	env := deploytest.Start(t, kubiaImages, deploytest.WithManifests(seedV1))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pod := env.Pods("app=kubia")[0].Name
	const size = 256 << 20
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	var n countingWriter
	// Through the daemon's own API, as the CLI calls it.
	sock := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- server.Serve(sctx, ln, server.New(env.Orch, nil)) }()
	defer func() { scancel(); <-served }()
	c := client.New(sock)
	defer c.Close()
	res, err := c.Exec(ctx, "default", pod, []string{"/kubia", "print", strconv.Itoa(size)}, &n)
	close(stop)
	<-sampled
	if err != nil || res.ExitCode != 0 || n != size {
		t.Fatalf("exec: exit %d, %d bytes, %v; want 0, %d bytes", res.ExitCode, n, err, size)
	}
	grew := int64(peak.Load()) - int64(before.HeapInuse)
	t.Logf("streamed %d MiB; heap in use grew by at most %.1f MB", size>>20, float64(grew)/1e6)
	if grew > 32<<20 {
		t.Errorf("heap grew by %d MB while streaming %d MiB", grew>>20, size>>20)
	}
}

type countingWriter int64

func (w *countingWriter) Write(p []byte) (int, error) {
	*w += countingWriter(len(p))
	return len(p), nil
}

func containerOf(t *testing.T, p *api.Pod) string {
	t.Helper()
	if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].ContainerID == "" {
		t.Fatalf("pod %s has no container", p.Name)
	}
	return strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "docker://")
}

func docker(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
		t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func hasEvent(t *testing.T, env *deploytest.Env, pod, reason string) bool {
	evs, err := env.Orch.Events(context.Background(), "default", &api.ObjectReference{Kind: api.KindPod, Name: pod})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Reason == reason {
			return true
		}
	}
	return false
}

// What the engine reports is read right: a paused pod is Paused, not
// Completed, leaves the endpoints and is not restarted; unpaused, it is the
// same pod again with no restart counted.
func TestPausedPodIsPausedNotRestarted(t *testing.T) {
	t.Parallel()
	env := deploytest.Start(t, kubiaImages, deploytest.WithManifests(seedV1))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pod := env.Pods("app=kubia")[0]
	id := containerOf(t, pod)
	docker(t, "pause", id)
	t.Cleanup(func() { exec.Command("docker", "unpause", id).Run() })
	paused := func() *api.Pod {
		for _, p := range env.Pods("app=kubia") {
			if p.Name == pod.Name {
				return p
			}
		}
		return nil
	}
	if err := env.WaitFor(ctx, "the pod shown paused and not ready", func() bool {
		p := paused()
		if p == nil || len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		cs := p.Status.ContainerStatuses[0]
		return cs.State.Waiting != nil && cs.State.Waiting.Reason == "Paused" && !cs.Ready
	}); err != nil {
		t.Fatal(err)
	}
	// The event is recorded beside the status change, not before it.
	if err := env.WaitFor(ctx, "a Paused event", func() bool { return hasEvent(t, env, pod.Name, "Paused") }); err != nil {
		t.Error(err)
	}
	docker(t, "unpause", id)
	if err := env.WaitFor(ctx, "the pod ready again", func() bool {
		p := paused()
		return p != nil && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].Ready
	}); err != nil {
		t.Fatal(err)
	}
	p := paused()
	if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 0 || containerOf(t, p) != id {
		t.Errorf("after unpause: %d restarts, container %s; want 0 and the same container %s", cs.RestartCount, containerOf(t, p), id)
	}
	if hasEvent(t, env, pod.Name, "BackOff") || hasEvent(t, env, pod.Name, "FailedRestart") {
		t.Error("the paused pod was treated as exited")
	}
}

// A pod cut off its network is replaced, with an event saying why.
func TestPodCutOffItsNetworkIsReplaced(t *testing.T) {
	t.Parallel()
	env := deploytest.Start(t, kubiaImages, deploytest.WithManifests(seedV1))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pod := env.Pods("app=kubia")[0]
	docker(t, "network", "disconnect", env.Network, containerOf(t, pod))
	if err := env.WaitFor(ctx, "the cut-off pod replaced and 3 ready again", func() bool {
		ready := 0
		for _, p := range env.Pods("app=kubia") {
			if p.Name == pod.Name {
				return false
			}
			if len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].Ready {
				ready++
			}
		}
		return ready == 3
	}); err != nil {
		t.Fatal(err)
	}
	if err := env.WaitFor(ctx, "a NetworkLost event", func() bool { return hasEvent(t, env, pod.Name, "NetworkLost") }); err != nil {
		t.Error(err)
	}
}
