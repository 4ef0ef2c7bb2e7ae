package node

import (
	"context"
	"log/slog"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	rt "github.com/mini-deploy/mini-deploy/runtime"
	"github.com/mini-deploy/mini-deploy/runtime/fake"
)

// duringList runs a function inside List, after the engine answered and
// before the caller sees the answer: what happens meanwhile in other
// goroutines of a real daemon.
type duringList struct {
	rt.Runtime
	hook func()
}

func (d *duringList) List(ctx context.Context, match map[string]string) ([]rt.Container, error) {
	ctrs, err := d.Runtime.List(ctx, match)
	if d.hook != nil {
		d.hook()
		d.hook = nil
	}
	return ctrs, err
}

func testPod(t *testing.T, f *fake.Runtime, o *Agent, name string) *pod {
	t.Helper()
	ctx := context.Background()
	id, err := f.Create(ctx, rt.ContainerSpec{Name: name, Image: "luksa/kubia:v1", Network: o.addrs.network,
		Labels: map[string]string{LabelInstance: o.instance, LabelPod: name, LabelNamespace: api.DefaultNamespace}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	c, err := f.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return &pod{name: name, namespace: api.DefaultNamespace, container: c}
}

// A periodic relist runs beside the controllers: a pod terminated while the
// list ran must not come back from it, and a pod created while it ran must
// not be dropped for being absent from it. Either mistake makes a controller
// count the wrong number of replicas, and a rollout briefly run one pod more
// than maxSurge allows.
func TestRelistRacingTerminationAndCreation(t *testing.T) {
	f := fake.New()
	f.AddImage("luksa/kubia:v1")
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	engine := &duringList{Runtime: f}
	o := New(Options{Runtime: engine, Store: st, Network: "mini-deploy", Instance: "default", Log: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	if _, err := f.EnsureNetwork(ctx, o.addrs.network, nil); err != nil {
		t.Fatal(err)
	}
	old := testPod(t, f, o, "kubia-old")
	old.terminating = true
	o.pods.put(old)

	var created *pod
	engine.hook = func() {
		// The termination finishes: container removed, pod dropped.
		if err := f.Remove(ctx, old.container.ID); err != nil {
			t.Fatal(err)
		}
		o.pods.remove(old.namespace, old.name)
		// A controller creates a pod.
		created = testPod(t, f, o, "kubia-new")
		o.pods.put(created)
	}
	if err := o.relist(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := o.pods.get(api.DefaultNamespace, "kubia-old"); ok {
		t.Error("the terminated pod came back from a list made before its removal")
	}
	if _, ok := o.pods.get(api.DefaultNamespace, "kubia-new"); !ok {
		t.Error("the pod created during the list was dropped")
	}

	// The next list sees the new pod; an inspect of the removed container
	// made before its removal brings nothing back either.
	if err := o.relist(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := o.pods.get(api.DefaultNamespace, "kubia-new"); !ok {
		t.Error("the new pod is missing after a second relist")
	}
	if p, _ := o.pods.observe(old.container); p != nil {
		t.Error("observe revived a removed container's pod")
	}
	// A container gone behind the control plane's back still goes.
	if err := f.Remove(ctx, created.container.ID); err != nil {
		t.Fatal(err)
	}
	if err := o.relist(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := o.pods.get(api.DefaultNamespace, "kubia-new"); ok {
		t.Error("a pod whose container was removed behind the control plane's back is still cached")
	}
}
