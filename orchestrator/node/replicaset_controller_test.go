package node

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/dataplane"
	"github.com/mini-deploy/mini-deploy/orchestrator/internal/record"
	"github.com/mini-deploy/mini-deploy/orchestrator/replicaset"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	"github.com/mini-deploy/mini-deploy/runtime/fake"
)

// noDataPlane stands in for the data plane where no Service exists: the
// termination protocol's drain hand-shake has nothing to wait for.
type noDataPlane struct{}

func (noDataPlane) PushNamespace(string)                          {}
func (noDataPlane) DrainPod(ctx context.Context, p dataplane.Pod) {}

// The ReplicaSet controller alone, with a node agent on the fake engine and
// a store: no queue, no data plane, no API, no Orchestrator. Each Reconcile acts
// once; the test is the loop.
func TestReplicaSetControllerAloneOnTheFakeRuntime(t *testing.T) {
	ctx := context.Background()
	f := fake.New()
	f.AddImage("luksa/kubia:v1")
	if _, err := f.EnsureNetwork(ctx, "mini-deploy", nil); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	log := slog.New(slog.DiscardHandler)
	var bg sync.WaitGroup
	node := New(Options{
		Runtime: f, Store: st, Services: dataplane.NewServiceIndex(), Network: "mini-deploy", Instance: "default",
		Labels: map[string]string{LabelInstance: "default"}, Log: log, Recorder: record.New(st, log), Background: &bg,
		Enqueue: func(api.Key) {}, Changed: func(string, string, string) {},
	})
	node.SetDrainer(noDataPlane{})
	c := replicaset.NewController(st, node, log)

	objs, err := api.DecodeManifests("rs.yaml", []byte(`apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: kubia}
spec:
  replicas: 3
  selector: {matchLabels: {app: kubia}}
  template:
    metadata: {labels: {app: kubia}}
    spec:
      containers: [{name: nodejs, image: "luksa/kubia:v1"}]
`))
	if err != nil {
		t.Fatal(err)
	}
	api.SetDefaults(objs[0])
	rs, err := st.Create(objs[0])
	if err != nil {
		t.Fatal(err)
	}
	key := api.KeyOf(rs)
	running := func() int {
		ctrs, err := f.List(ctx, map[string]string{LabelOwnerName: "kubia"})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range ctrs {
			if c.Running() {
				n++
			}
		}
		return n
	}

	if _, err := c.Reconcile(ctx, key); err != nil {
		t.Fatal(err)
	}
	if n := running(); n != 3 {
		t.Fatalf("after the first reconcile: %d running containers, want 3", n)
	}
	if _, err := c.Reconcile(ctx, key); err != nil || running() != 3 {
		t.Fatalf("a second reconcile must do nothing: %d running, %v", running(), err)
	}

	got, err := st.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	one := int32(1)
	got.(*api.ReplicaSet).Spec.Replicas = &one
	if _, err := st.Update(got); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reconcile(ctx, key); err != nil {
		t.Fatal(err)
	}
	bg.Wait() // the terminations
	if n := running(); n != 1 {
		t.Fatalf("after scaling to 1: %d running containers, want 1", n)
	}
	if _, err := c.Reconcile(ctx, key); err != nil {
		t.Fatal(err)
	}
	got, _ = st.Get(key)
	if status := got.(*api.ReplicaSet).Status; status.Replicas != 1 || status.ObservedGeneration != got.Meta().Generation {
		t.Errorf("status %+v, want 1 replica at generation %d", status, got.Meta().Generation)
	}
}
