package orchestrator

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/runtime/runtimetest"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	rt "github.com/mini-deploy/mini-deploy/runtime"
	"github.com/mini-deploy/mini-deploy/runtime/fake"
)

// seedRC is the seed's first YAML, verbatim: a ReplicationController of
// three kubia pods and a Service.
var seedRC = readFile("../examples/seed/rc-v1.yaml")

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return string(b)
}

type harness struct {
	t      *testing.T
	rt     *fake.Runtime
	store  *store.Store
	o      *Orchestrator
	cancel context.CancelFunc
	done   chan error
}

// newHarness runs an orchestrator on the fake engine. Probes never leave the
// process: every dial succeeds on an in-memory pipe.
func newHarness(t *testing.T, f *fake.Runtime, dir string, tweaks ...func(*Options)) *harness {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{ResyncPeriod: time.Second, Address: "127.0.0.1"}
	for _, tweak := range tweaks {
		tweak(&opts)
	}
	o, err := New(f, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	o.prober.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		a, b := net.Pipe()
		_ = b.Close()
		return a, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, rt: f, store: st, o: o, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- o.Run(ctx) }()
	select {
	case <-o.Ready():
	case err := <-h.done:
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
	h.cancel = nil
	_ = h.store.Close()
}

func (h *harness) apply(manifest string) []server.ApplyResult {
	h.t.Helper()
	objs, err := api.DecodeManifests("test.yaml", []byte(manifest))
	if err != nil {
		h.t.Fatal(err)
	}
	res, err := h.o.Apply(context.Background(), objs, server.ApplyOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	runtimetest.Eventually(h.t, 10*time.Second, 20*time.Millisecond, what, cond)
}

func (h *harness) pods(selector string) []*api.Pod {
	objs, err := h.o.List(context.Background(), api.KindPod, "default", selector)
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]*api.Pod, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*api.Pod))
	}
	return out
}

func (h *harness) readyPods(selector string) int {
	n := 0
	for _, p := range h.pods(selector) {
		if p.DeletionTimestamp == nil && p.Status.ContainerStatuses[0].Ready {
			n++
		}
	}
	return n
}

// startSeed runs the seed's RC and Service on a fake engine and waits for
// its three pods to be ready.
func startSeed(t *testing.T) (*fake.Runtime, *harness) {
	t.Helper()
	f := fake.New()
	f.AddImage("luksa/kubia:v1")
	h := newHarness(t, f, t.TempDir())
	h.apply(seedRC)
	h.eventually("3 ready pods", func() bool { return h.readyPods("app=kubia") == 3 })
	return f, h
}

func containerID(p *api.Pod) string {
	return strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "docker://")
}

func countActions(actions []string, prefix string) int {
	n := 0
	for _, a := range actions {
		if strings.HasPrefix(a, prefix) {
			n++
		}
	}
	return n
}

func TestReplicationControllerKeepsThreePods(t *testing.T) {
	f, h := startSeed(t)

	for _, p := range h.pods("app=kubia") {
		if !strings.HasPrefix(p.Name, "kubia-v1-") || len(p.Name) != len("kubia-v1-")+5 {
			t.Errorf("pod name %q, want kubia-v1-xxxxx", p.Name)
		}
		c, err := f.Inspect(context.Background(), containerID(p))
		if err != nil {
			t.Fatal(err)
		}
		if c.Hostname != p.Name {
			t.Errorf("hostname %q, want the pod name %q", c.Hostname, p.Name)
		}
		if c.Labels[rt.ManagedLabel] != "true" || c.Labels["app"] != "kubia" || c.Labels[LabelOwnerName] != "kubia-v1" {
			t.Errorf("labels %v lack ownership or template labels", c.Labels)
		}
	}
	obj, err := h.o.Get(context.Background(), api.KindReplicationController, "default", "kubia-v1")
	if err != nil {
		t.Fatal(err)
	}
	h.eventually("status ready 3", func() bool {
		obj, _ = h.o.Get(context.Background(), api.KindReplicationController, "default", "kubia-v1")
		return obj.(*api.ReplicationController).Status.ReadyReplicas == 3
	})
}

func TestRemovedPodIsReplaced(t *testing.T) {
	f, h := startSeed(t)
	victim := h.pods("app=kubia")[0]
	if err := f.Remove(context.Background(), containerID(victim)); err != nil {
		t.Fatal(err)
	}
	h.eventually("a replacement", func() bool {
		pods := h.pods("app=kubia")
		if len(pods) != 3 || h.readyPods("app=kubia") != 3 {
			return false
		}
		for _, p := range pods {
			if p.Name == victim.Name {
				return false
			}
		}
		return true
	})
}

func TestExitedPodRestartsInPlaceWithBackoff(t *testing.T) {
	f, h := startSeed(t)
	victim := h.pods("app=kubia")[0]
	if err := f.Exit(containerID(victim), 137); err != nil {
		t.Fatal(err)
	}
	h.eventually("restart in place", func() bool {
		p, err := h.o.Get(context.Background(), api.KindPod, "default", victim.Name)
		if err != nil {
			return false
		}
		cs := p.(*api.Pod).Status.ContainerStatuses[0]
		return cs.RestartCount == 1 && cs.State.Running != nil && containerID(p.(*api.Pod)) == containerID(victim)
	})
	// The second crash waits out the back-off: CrashLoopBackOff.
	if err := f.Exit(containerID(victim), 1); err != nil {
		t.Fatal(err)
	}
	h.eventually("CrashLoopBackOff", func() bool {
		p, err := h.o.Get(context.Background(), api.KindPod, "default", victim.Name)
		if err != nil {
			return false
		}
		w := p.(*api.Pod).Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == reasonCrashLoopBackOff
	})
	if n := len(h.pods("app=kubia")); n != 3 {
		t.Fatalf("%d pods, want 3: a crashing pod is restarted, not replaced", n)
	}
}

func TestScaleUpAndDown(t *testing.T) {
	f, h := startSeed(t)
	if _, err := h.o.Scale(context.Background(), api.KindReplicationController, "default", "kubia-v1", 5); err != nil {
		t.Fatal(err)
	}
	h.eventually("5 ready pods", func() bool { return h.readyPods("app=kubia") == 5 })
	if _, err := h.o.Scale(context.Background(), api.KindReplicationController, "default", "kubia-v1", 1); err != nil {
		t.Fatal(err)
	}
	h.eventually("1 pod", func() bool { return len(h.pods("app=kubia")) == 1 })
	if got := countActions(f.Actions(), "remove "); got != 4 {
		t.Errorf("%d removes, want 4", got)
	}
}

func TestRestartAdoptsPodsWithoutRecreating(t *testing.T) {
	f := fake.New()
	f.AddImage("luksa/kubia:v1")
	dir := t.TempDir()
	h := newHarness(t, f, dir)
	h.apply(seedRC)
	h.eventually("3 ready pods", func() bool { return h.readyPods("app=kubia") == 3 })
	before := map[string]bool{}
	for _, p := range h.pods("app=kubia") {
		before[containerID(p)] = true
	}
	// One pod has crashed and been restarted once: RESTARTS survives too.
	crashed := h.pods("app=kubia")[0]
	if err := f.Exit(containerID(crashed), 1); err != nil {
		t.Fatal(err)
	}
	h.eventually("the restart", func() bool {
		p, err := h.o.Get(context.Background(), api.KindPod, "default", crashed.Name)
		return err == nil && p.(*api.Pod).Status.ContainerStatuses[0].RestartCount == 1 && h.readyPods("app=kubia") == 3
	})
	h.stop()
	f.ResetActions()

	h2 := newHarness(t, f, dir)
	h2.eventually("3 ready pods after restart", func() bool { return h2.readyPods("app=kubia") == 3 })
	p, err := h2.o.Get(context.Background(), api.KindPod, "default", crashed.Name)
	if err != nil {
		t.Fatal(err)
	}
	if n := p.(*api.Pod).Status.ContainerStatuses[0].RestartCount; n != 1 {
		t.Errorf("RESTARTS of %s after the daemon restart = %d, want 1", crashed.Name, n)
	}
	time.Sleep(300 * time.Millisecond) // a few reconciles
	for _, p := range h2.pods("app=kubia") {
		if !before[containerID(p)] {
			t.Errorf("pod %s has a new container: adoption must not recreate", p.Name)
		}
	}
	for _, a := range f.Actions() {
		if strings.HasPrefix(a, "create") || strings.HasPrefix(a, "remove") || strings.HasPrefix(a, "stop") {
			t.Errorf("restart took action %q", a)
		}
	}
}

func TestForeignContainerIsNeverTouched(t *testing.T) {
	f := fake.New()
	f.AddImage("luksa/kubia:v1")
	foreign := f.AddForeign(rt.ContainerSpec{Name: "users-own-kubia", Image: "luksa/kubia:v1", Labels: map[string]string{"app": "kubia"}})
	h := newHarness(t, f, t.TempDir())
	h.apply(seedRC)
	h.eventually("3 ready pods", func() bool { return h.readyPods("app=kubia") == 3 })
	if _, err := h.o.Scale(context.Background(), api.KindReplicationController, "default", "kubia-v1", 0); err != nil {
		t.Fatal(err)
	}
	h.eventually("0 pods", func() bool { return len(h.pods("app=kubia")) == 0 })
	if !f.IsRunning(foreign) {
		t.Fatal("the foreign container was stopped")
	}
	for _, a := range f.Actions() {
		if strings.Contains(a, "users-own-kubia") {
			t.Errorf("action %q touched the foreign container", a)
		}
	}
}

func TestMissingImageWaitsWithReason(t *testing.T) {
	f := fake.New()
	h := newHarness(t, f, t.TempDir())
	h.apply(strings.Replace(seedRC, "luksa/kubia:v1", "luksa/kubia:does-not-exist", 1))
	h.eventually("3 waiting pods", func() bool {
		pods := h.pods("app=kubia")
		if len(pods) != 3 {
			return false
		}
		for _, p := range pods {
			w := p.Status.ContainerStatuses[0].State.Waiting
			if w == nil || w.Reason != reasonErrImageNeverPull {
				return false
			}
		}
		return true
	})
}

func TestBadApplyStoresNothing(t *testing.T) {
	f := fake.New()
	h := newHarness(t, f, t.TempDir())
	bad := strings.Replace(seedRC, "replicas: 3", "replicas: -1", 1)
	objs, err := api.DecodeManifests("bad.yaml", []byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.o.Apply(context.Background(), objs, server.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "spec.replicas") {
		t.Fatalf("apply error %v, want one naming spec.replicas", err)
	}
	for _, kind := range []string{api.KindReplicationController, api.KindService} {
		objs, _ := h.store.List(kind, "")
		if len(objs) != 0 {
			t.Errorf("%d %s stored after a rejected apply", len(objs), kind)
		}
	}
}

func TestDeleteCascadesAndOrphans(t *testing.T) {
	f, h := startSeed(t)
	if _, err := h.o.Delete(context.Background(), api.KindReplicationController, "default", "kubia-v1", server.DeleteOptions{Cascade: "orphan"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(h.pods("app=kubia")); n != 3 {
		t.Fatalf("orphan delete left %d pods, want 3", n)
	}
	// A new controller with the same selector adopts them: no new pods.
	f.ResetActions()
	h.apply(strings.Replace(seedRC, "name: kubia-v1", "name: kubia-again", 1))
	time.Sleep(300 * time.Millisecond)
	if got := countActions(f.Actions(), "create"); got != 0 {
		t.Fatalf("%d creates: orphans must be adopted", got)
	}
	if _, err := h.o.Delete(context.Background(), api.KindReplicationController, "default", "kubia-again", server.DeleteOptions{Cascade: "foreground"}); err != nil {
		t.Fatal(err)
	}
	if n := len(h.pods("app=kubia")); n != 0 {
		t.Fatalf("cascading delete left %d pods", n)
	}
	if _, err := h.o.Get(context.Background(), api.KindReplicationController, "default", "kubia-again"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}

func TestPodDeletedWhileItsContainerStartsLeavesNothing(t *testing.T) {
	f := fake.New()
	f.AddImage("luksa/kubia:v1")
	f.SetStartDelay(300 * time.Millisecond)
	h := newHarness(t, f, t.TempDir())
	h.apply(seedRC)
	// The pods are in the cache as ContainerCreating while the engine starts
	// them; a cascading delete now must not leave their containers running.
	h.eventually("pods being created", func() bool { return len(h.pods("app=kubia")) == 3 })
	if _, err := h.o.Delete(context.Background(), api.KindReplicationController, "default", "kubia-v1", server.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("no pods and no containers", func() bool {
		ctrs, _ := f.List(context.Background(), nil)
		return len(h.pods("")) == 0 && len(ctrs) == 0
	})
	time.Sleep(500 * time.Millisecond)
	if ctrs, _ := f.List(context.Background(), nil); len(ctrs) != 0 || len(h.pods("")) != 0 {
		t.Fatalf("%d containers and %d pods came back after the delete", len(ctrs), len(h.pods("")))
	}
}

// A deleted pod stops counting as a replica at once: its controller creates
// the replacement while the pod is still terminating (here for its whole
// grace period, as it ignores SIGTERM), and the status stops counting it
// ready, as a ReplicaSet in Kubernetes does.
func TestDeletedPodIsReplacedWhileItTerminates(t *testing.T) {
	f := fake.New()
	f.AddImage("luksa/kubia:v1", fake.WithIgnoreSIGTERM())
	// No periodic resync to make up for a missed requeue.
	h := newHarness(t, f, t.TempDir(), func(o *Options) { o.ResyncPeriod = time.Hour })
	h.apply(`apiVersion: v1
kind: ReplicationController
metadata:
  name: slow
spec:
  replicas: 1
  selector:
    app: slow
  template:
    metadata:
      labels:
        app: slow
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: nodejs
        image: luksa/kubia:v1
`)
	h.eventually("1 ready pod", func() bool { return h.readyPods("app=slow") == 1 })
	victim := h.pods("app=slow")[0].Name
	if _, err := h.o.Delete(context.Background(), api.KindPod, "default", victim, server.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("a ready replacement beside the terminating pod", func() bool {
		terminating, ready := false, 0
		for _, p := range h.pods("app=slow") {
			if p.Name == victim {
				terminating = p.DeletionTimestamp != nil
			} else if p.Status.ContainerStatuses[0].Ready {
				ready++
			}
		}
		return terminating && ready == 1
	})
	// The status, written by the controller's next sync, counts the new pod
	// alone.
	h.eventually("a status of 1 replica, 1 ready, while the old pod terminates", func() bool {
		obj, err := h.o.Get(context.Background(), api.KindReplicationController, "default", "slow")
		if err != nil {
			t.Fatal(err)
		}
		st := obj.(*api.ReplicationController).Status
		terminating := false
		for _, p := range h.pods("app=slow") {
			terminating = terminating || p.Name == victim
		}
		return st.Replicas == 1 && st.ReadyReplicas == 1 && terminating
	})
	// It still runs while it terminates, and exec reaches it, as in Kubernetes.
	if _, err := h.o.Exec(context.Background(), "default", victim, []string{"ls"}); err != nil {
		t.Errorf("exec in a terminating pod: %v", err)
	}
}

// delete --grace-period=0 --force does not wait out the pod's own grace
// period: a pod that ignores SIGTERM is killed at once.
func TestDeleteWithAGracePeriodOverridesThePods(t *testing.T) {
	f := fake.New()
	f.AddImage("luksa/kubia:v1", fake.WithIgnoreSIGTERM())
	h := newHarness(t, f, t.TempDir())
	h.apply(strings.Replace(seedRC, "    spec:\n", "    spec:\n      terminationGracePeriodSeconds: 20\n", 1))
	h.eventually("3 ready pods", func() bool { return h.readyPods("app=kubia") == 3 })
	victim := h.pods("app=kubia")[0].Name
	zero := int64(0)
	if _, err := h.o.Delete(context.Background(), api.KindPod, "default", victim, server.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	h.eventually("the pod gone long before its 20 s of grace", func() bool {
		for _, p := range h.pods("app=kubia") {
			if p.Name == victim {
				return false
			}
		}
		return true
	})
}

// A daemon that dies between creating a pod's container and starting it
// leaves a container in the created state. The next daemon starts it, or a
// rollout waiting for that pod would wait for ever.
func TestContainerCreatedByADeadDaemonIsStarted(t *testing.T) {
	dir := t.TempDir()
	f := fake.New()
	f.AddImage("luksa/kubia:v1")
	f.SetStartDelay(time.Hour) // every start hangs until the daemon dies
	h := newHarness(t, f, dir)
	h.apply(seedRC)
	h.eventually("3 containers created", func() bool {
		ctrs, _ := f.List(context.Background(), nil)
		return len(ctrs) == 3
	})
	h.stop()
	ctrs, _ := f.List(context.Background(), nil)
	for _, c := range ctrs {
		if c.State != rt.StateCreated {
			t.Fatalf("container %s is %s, want created", c.Name, c.State)
		}
	}

	f.SetStartDelay(0)
	h = newHarness(t, f, dir, func(o *Options) { o.ResyncPeriod = time.Hour })
	h.eventually("the 3 created containers running and ready", func() bool { return h.readyPods("app=kubia") == 3 })
	after, _ := f.List(context.Background(), nil)
	if len(after) != 3 {
		t.Errorf("%d containers, want the 3 created before", len(after))
	}
	for _, p := range h.pods("app=kubia") {
		if p.Status.ContainerStatuses[0].RestartCount != 0 {
			t.Errorf("pod %s counts %d restarts for its first start", p.Name, p.Status.ContainerStatuses[0].RestartCount)
		}
	}
}
