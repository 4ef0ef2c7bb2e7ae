package orchestrator_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator"
	"github.com/mini-deploy/mini-deploy/orchestrator/internal/orchtest"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	rt "github.com/mini-deploy/mini-deploy/runtime"
	"github.com/mini-deploy/mini-deploy/runtime/fake"
)

func TestReplicationControllerKeepsThreePods(t *testing.T) {
	f, h := orchtest.StartSeed(t)

	for _, p := range h.Pods("app=kubia") {
		if !strings.HasPrefix(p.Name, "kubia-v1-") || len(p.Name) != len("kubia-v1-")+5 {
			t.Errorf("pod name %q, want kubia-v1-xxxxx", p.Name)
		}
		c, err := f.Inspect(context.Background(), orchtest.ContainerID(p))
		if err != nil {
			t.Fatal(err)
		}
		if c.Hostname != p.Name {
			t.Errorf("hostname %q, want the pod name %q", c.Hostname, p.Name)
		}
		if c.Labels[rt.ManagedLabel] != "true" || c.Labels["app"] != "kubia" || c.Labels[orchestrator.LabelOwnerName] != "kubia-v1" {
			t.Errorf("labels %v lack ownership or template labels", c.Labels)
		}
	}
	obj, err := h.O.Get(context.Background(), api.KindReplicationController, "default", "kubia-v1")
	if err != nil {
		t.Fatal(err)
	}
	h.Eventually("status ready 3", func() bool {
		obj, _ = h.O.Get(context.Background(), api.KindReplicationController, "default", "kubia-v1")
		return obj.(*api.ReplicationController).Status.ReadyReplicas == 3
	})
}

func TestRemovedPodIsReplaced(t *testing.T) {
	f, h := orchtest.StartSeed(t)
	victim := h.Pods("app=kubia")[0]
	if err := f.Remove(context.Background(), orchtest.ContainerID(victim)); err != nil {
		t.Fatal(err)
	}
	h.Eventually("a replacement", func() bool {
		pods := h.Pods("app=kubia")
		if len(pods) != 3 || h.ReadyPods("app=kubia") != 3 {
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
	f, h := orchtest.StartSeed(t)
	victim := h.Pods("app=kubia")[0]
	if err := f.Exit(orchtest.ContainerID(victim), 137); err != nil {
		t.Fatal(err)
	}
	h.Eventually("restart in place", func() bool {
		p, err := h.O.Get(context.Background(), api.KindPod, "default", victim.Name)
		if err != nil {
			return false
		}
		cs := p.(*api.Pod).Status.ContainerStatuses[0]
		return cs.RestartCount == 1 && cs.State.Running != nil && orchtest.ContainerID(p.(*api.Pod)) == orchtest.ContainerID(victim)
	})
	// The second crash waits out the back-off: CrashLoopBackOff.
	if err := f.Exit(orchtest.ContainerID(victim), 1); err != nil {
		t.Fatal(err)
	}
	h.Eventually("CrashLoopBackOff", func() bool {
		p, err := h.O.Get(context.Background(), api.KindPod, "default", victim.Name)
		if err != nil {
			return false
		}
		w := p.(*api.Pod).Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "CrashLoopBackOff"
	})
	if n := len(h.Pods("app=kubia")); n != 3 {
		t.Fatalf("%d pods, want 3: a crashing pod is restarted, not replaced", n)
	}
}

func TestScaleUpAndDown(t *testing.T) {
	f, h := orchtest.StartSeed(t)
	if _, err := h.O.Scale(context.Background(), api.KindReplicationController, "default", "kubia-v1", 5); err != nil {
		t.Fatal(err)
	}
	h.Eventually("5 ready pods", func() bool { return h.ReadyPods("app=kubia") == 5 })
	if _, err := h.O.Scale(context.Background(), api.KindReplicationController, "default", "kubia-v1", 1); err != nil {
		t.Fatal(err)
	}
	h.Eventually("1 pod", func() bool { return len(h.Pods("app=kubia")) == 1 })
	if got := orchtest.CountActions(f.Actions(), "remove "); got != 4 {
		t.Errorf("%d removes, want 4", got)
	}
}

func TestRestartAdoptsPodsWithoutRecreating(t *testing.T) {
	f := fake.New()
	f.AddImage("luksa/kubia:v1")
	dir := t.TempDir()
	h := orchtest.New(t, f, dir)
	h.Apply(orchtest.SeedRC())
	h.Eventually("3 ready pods", func() bool { return h.ReadyPods("app=kubia") == 3 })
	before := map[string]bool{}
	for _, p := range h.Pods("app=kubia") {
		before[orchtest.ContainerID(p)] = true
	}
	// One pod has crashed and been restarted once: RESTARTS survives too.
	crashed := h.Pods("app=kubia")[0]
	if err := f.Exit(orchtest.ContainerID(crashed), 1); err != nil {
		t.Fatal(err)
	}
	h.Eventually("the restart", func() bool {
		p, err := h.O.Get(context.Background(), api.KindPod, "default", crashed.Name)
		return err == nil && p.(*api.Pod).Status.ContainerStatuses[0].RestartCount == 1 && h.ReadyPods("app=kubia") == 3
	})
	h.Stop()
	f.ResetActions()

	h2 := orchtest.New(t, f, dir)
	h2.Eventually("3 ready pods after restart", func() bool { return h2.ReadyPods("app=kubia") == 3 })
	p, err := h2.O.Get(context.Background(), api.KindPod, "default", crashed.Name)
	if err != nil {
		t.Fatal(err)
	}
	if n := p.(*api.Pod).Status.ContainerStatuses[0].RestartCount; n != 1 {
		t.Errorf("RESTARTS of %s after the daemon restart = %d, want 1", crashed.Name, n)
	}
	time.Sleep(300 * time.Millisecond) // a few reconciles
	for _, p := range h2.Pods("app=kubia") {
		if !before[orchtest.ContainerID(p)] {
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
	h := orchtest.New(t, f, t.TempDir())
	h.Apply(orchtest.SeedRC())
	h.Eventually("3 ready pods", func() bool { return h.ReadyPods("app=kubia") == 3 })
	if _, err := h.O.Scale(context.Background(), api.KindReplicationController, "default", "kubia-v1", 0); err != nil {
		t.Fatal(err)
	}
	h.Eventually("0 pods", func() bool { return len(h.Pods("app=kubia")) == 0 })
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
	h := orchtest.New(t, f, t.TempDir())
	h.Apply(strings.Replace(orchtest.SeedRC(), "luksa/kubia:v1", "luksa/kubia:does-not-exist", 1))
	h.Eventually("3 waiting pods", func() bool {
		pods := h.Pods("app=kubia")
		if len(pods) != 3 {
			return false
		}
		for _, p := range pods {
			w := p.Status.ContainerStatuses[0].State.Waiting
			if w == nil || w.Reason != "ErrImageNeverPull" {
				return false
			}
		}
		return true
	})
}

func TestBadApplyStoresNothing(t *testing.T) {
	f := fake.New()
	h := orchtest.New(t, f, t.TempDir())
	bad := strings.Replace(orchtest.SeedRC(), "replicas: 3", "replicas: -1", 1)
	objs, err := api.DecodeManifests("bad.yaml", []byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.O.Apply(context.Background(), objs, server.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "spec.replicas") {
		t.Fatalf("apply error %v, want one naming spec.replicas", err)
	}
	for _, kind := range []string{api.KindReplicationController, api.KindService} {
		objs, _ := h.Store.List(kind, "")
		if len(objs) != 0 {
			t.Errorf("%d %s stored after a rejected apply", len(objs), kind)
		}
	}
}

func TestDeleteCascadesAndOrphans(t *testing.T) {
	f, h := orchtest.StartSeed(t)
	if _, err := h.O.Delete(context.Background(), api.KindReplicationController, "default", "kubia-v1", server.DeleteOptions{Cascade: "orphan"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(h.Pods("app=kubia")); n != 3 {
		t.Fatalf("orphan delete left %d pods, want 3", n)
	}
	// A new controller with the same selector adopts them: no new pods.
	f.ResetActions()
	h.Apply(strings.Replace(orchtest.SeedRC(), "name: kubia-v1", "name: kubia-again", 1))
	time.Sleep(300 * time.Millisecond)
	if got := orchtest.CountActions(f.Actions(), "create"); got != 0 {
		t.Fatalf("%d creates: orphans must be adopted", got)
	}
	if _, err := h.O.Delete(context.Background(), api.KindReplicationController, "default", "kubia-again", server.DeleteOptions{Cascade: "foreground"}); err != nil {
		t.Fatal(err)
	}
	if n := len(h.Pods("app=kubia")); n != 0 {
		t.Fatalf("cascading delete left %d pods", n)
	}
	if _, err := h.O.Get(context.Background(), api.KindReplicationController, "default", "kubia-again"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}

func TestPodDeletedWhileItsContainerStartsLeavesNothing(t *testing.T) {
	f := fake.New()
	f.AddImage("luksa/kubia:v1")
	f.SetStartDelay(300 * time.Millisecond)
	h := orchtest.New(t, f, t.TempDir())
	h.Apply(orchtest.SeedRC())
	// The pods are in the cache as ContainerCreating while the engine starts
	// them; a cascading delete now must not leave their containers running.
	h.Eventually("pods being created", func() bool { return len(h.Pods("app=kubia")) == 3 })
	if _, err := h.O.Delete(context.Background(), api.KindReplicationController, "default", "kubia-v1", server.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.Eventually("no pods and no containers", func() bool {
		ctrs, _ := f.List(context.Background(), nil)
		return len(h.Pods("")) == 0 && len(ctrs) == 0
	})
	time.Sleep(500 * time.Millisecond)
	if ctrs, _ := f.List(context.Background(), nil); len(ctrs) != 0 || len(h.Pods("")) != 0 {
		t.Fatalf("%d containers and %d pods came back after the delete", len(ctrs), len(h.Pods("")))
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
	h := orchtest.New(t, f, t.TempDir(), func(o *orchestrator.Options) { o.ResyncPeriod = time.Hour })
	h.Apply(`apiVersion: v1
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
	h.Eventually("1 ready pod", func() bool { return h.ReadyPods("app=slow") == 1 })
	victim := h.Pods("app=slow")[0].Name
	if _, err := h.O.Delete(context.Background(), api.KindPod, "default", victim, server.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.Eventually("a ready replacement beside the terminating pod", func() bool {
		terminating, ready := false, 0
		for _, p := range h.Pods("app=slow") {
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
	h.Eventually("a status of 1 replica, 1 ready, while the old pod terminates", func() bool {
		obj, err := h.O.Get(context.Background(), api.KindReplicationController, "default", "slow")
		if err != nil {
			t.Fatal(err)
		}
		st := obj.(*api.ReplicationController).Status
		terminating := false
		for _, p := range h.Pods("app=slow") {
			terminating = terminating || p.Name == victim
		}
		return st.Replicas == 1 && st.ReadyReplicas == 1 && terminating
	})
	// It still runs while it terminates, and exec reaches it, as in Kubernetes.
	if _, err := h.O.Exec(context.Background(), "default", victim, []string{"ls"}, io.Discard); err != nil {
		t.Errorf("exec in a terminating pod: %v", err)
	}
}

// delete --grace-period=0 --force does not wait out the pod's own grace
// period: a pod that ignores SIGTERM is killed at once.
func TestDeleteWithAGracePeriodOverridesThePods(t *testing.T) {
	f := fake.New()
	f.AddImage("luksa/kubia:v1", fake.WithIgnoreSIGTERM())
	h := orchtest.New(t, f, t.TempDir())
	h.Apply(strings.Replace(orchtest.SeedRC(), "    spec:\n", "    spec:\n      terminationGracePeriodSeconds: 20\n", 1))
	h.Eventually("3 ready pods", func() bool { return h.ReadyPods("app=kubia") == 3 })
	victim := h.Pods("app=kubia")[0].Name
	zero := int64(0)
	if _, err := h.O.Delete(context.Background(), api.KindPod, "default", victim, server.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	h.Eventually("the pod gone long before its 20 s of grace", func() bool {
		for _, p := range h.Pods("app=kubia") {
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
	h := orchtest.New(t, f, dir)
	h.Apply(orchtest.SeedRC())
	h.Eventually("3 containers created", func() bool {
		ctrs, _ := f.List(context.Background(), nil)
		return len(ctrs) == 3
	})
	h.Stop()
	ctrs, _ := f.List(context.Background(), nil)
	for _, c := range ctrs {
		if c.State != rt.StateCreated {
			t.Fatalf("container %s is %s, want created", c.Name, c.State)
		}
	}

	f.SetStartDelay(0)
	h = orchtest.New(t, f, dir, func(o *orchestrator.Options) { o.ResyncPeriod = time.Hour })
	h.Eventually("the 3 created containers running and ready", func() bool { return h.ReadyPods("app=kubia") == 3 })
	after, _ := f.List(context.Background(), nil)
	if len(after) != 3 {
		t.Errorf("%d containers, want the 3 created before", len(after))
	}
	for _, p := range h.Pods("app=kubia") {
		if p.Status.ContainerStatuses[0].RestartCount != 0 {
			t.Errorf("pod %s counts %d restarts for its first start", p.Name, p.Status.ContainerStatuses[0].RestartCount)
		}
	}
}
