package node

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/dataplane"
	"github.com/mini-deploy/mini-deploy/orchestrator/internal/record"
	"github.com/mini-deploy/mini-deploy/orchestrator/replicaset"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	"github.com/mini-deploy/mini-deploy/runtime/fake"
)

// steps is a Drainer that writes what it is asked into one list with what
// the engine was asked, so that a test reads the order of the two.
type steps struct {
	mu   sync.Mutex
	f    *fake.Runtime
	list []string
}

func (s *steps) engine() {
	for _, a := range s.f.Actions() {
		if !slices.Contains(s.list, a) {
			s.list = append(s.list, a)
		}
	}
}

func (s *steps) PushNamespace(ns string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.engine()
	s.list = append(s.list, "push endpoints of "+ns)
}

func (s *steps) DrainPod(ctx context.Context, p dataplane.Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.engine()
	s.list = append(s.list, "drain "+p.Name)
}

// The termination protocol, on the node agent alone: the pod leaves the
// endpoints and is drained before the engine is asked to stop it, and only
// then removed.
func TestTerminationDrainsBeforeTheSignal(t *testing.T) {
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
	n := New(Options{
		Runtime: f, Store: st, Services: dataplane.NewServiceIndex(), Network: "mini-deploy", Instance: "default",
		Labels: map[string]string{LabelInstance: "default"}, Log: log, Recorder: record.New(st, log), Background: &bg,
		Enqueue: func(api.Key) {}, Changed: func(string, string, string) {},
	})
	s := &steps{f: f}
	n.SetDrainer(s)
	rc := &api.ReplicationController{
		TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: api.KindReplicationController},
		ObjectMeta: api.ObjectMeta{Name: "kubia", Namespace: "default", UID: "uid-1"},
		Spec: api.ReplicationControllerSpec{Selector: map[string]string{"app": "kubia"},
			Template: &api.PodTemplateSpec{ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": "kubia"}},
				Spec: api.PodSpec{Containers: []api.Container{{Name: "nodejs", Image: "luksa/kubia:v1"}}}}},
	}
	w, err := replicaset.WorkloadOf(rc)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.CreatePod(ctx, w); err != nil {
		t.Fatal(err)
	}
	pods := n.ListPods()
	if len(pods) != 1 || !pods[0].Running() {
		t.Fatalf("pods after CreatePod: %v", pods)
	}
	name := pods[0].Name()
	f.ResetActions()
	<-n.TerminatePod(pods[0], w)
	bg.Wait()
	s.mu.Lock()
	s.engine()
	got := s.list
	s.mu.Unlock()
	want := []string{"push endpoints of default", "drain " + name, "stop " + name, "remove " + name}
	if !slices.Equal(got, want) {
		t.Errorf("steps %q, want %q", got, want)
	}
	if len(n.ListPods()) != 0 {
		t.Error("the pod is still cached after its termination")
	}
}
