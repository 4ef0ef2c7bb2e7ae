package replicaset

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// fakePod is a pod as a test wants it.
type fakePod struct {
	ns, name, owner string
	labels          map[string]string
	ready           bool
	created         time.Time
}

func (p *fakePod) Namespace() string         { return p.ns }
func (p *fakePod) Name() string              { return p.name }
func (p *fakePod) OwnerUID() string          { return p.owner }
func (p *fakePod) Labels() map[string]string { return p.labels }
func (p *fakePod) Terminating() bool         { return false }
func (p *fakePod) HasContainer() bool        { return true }
func (p *fakePod) Running() bool             { return true }
func (p *fakePod) Ready() bool               { return p.ready }
func (p *fakePod) ReadySince() time.Time     { return p.created }
func (p *fakePod) Restarts() int32           { return 0 }
func (p *fakePod) Created() time.Time        { return p.created }

// fakeNode records what the controller asks of it.
type fakeNode struct {
	pods    []*fakePod
	actions []string
}

func (n *fakeNode) ListPods() []Pod {
	out := make([]Pod, len(n.pods))
	for i, p := range n.pods {
		out[i] = p
	}
	return out
}

func (n *fakeNode) Adopt(p Pod, w *Workload) (Pod, bool) {
	n.actions = append(n.actions, "adopt "+p.Name())
	p.(*fakePod).owner = w.UID
	return p, true
}

func (n *fakeNode) CreatePod(ctx context.Context, w *Workload) error {
	name := fmt.Sprintf("%s-new%d", w.Name, len(n.pods))
	n.actions = append(n.actions, "create "+name)
	n.pods = append(n.pods, &fakePod{ns: w.Namespace, name: name, owner: w.UID, labels: w.Template.Labels})
	return nil
}

func (n *fakeNode) KeepPodRunning(ctx context.Context, w *Workload, p Pod) time.Duration { return 0 }

func (n *fakeNode) TerminatePod(p Pod, w *Workload) <-chan struct{} {
	n.actions = append(n.actions, "terminate "+p.Name())
	n.pods = slices.DeleteFunc(n.pods, func(q *fakePod) bool { return q.name == p.Name() })
	done := make(chan struct{})
	close(done)
	return done
}

// The controller on fakes, checked by the exact list of actions it took:
// it adopts the orphan its selector matches, leaves another owner's pod
// alone, creates what is missing; scaled down, it stops the pod that is not
// ready before the ready ones.
func TestReconcileActions(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
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
	other, err := st.Create(&api.ReplicationController{
		TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: api.KindReplicationController},
		ObjectMeta: api.ObjectMeta{Name: "other", Namespace: "default"},
		Spec: api.ReplicationControllerSpec{Selector: map[string]string{"app": "other"},
			Template: &api.PodTemplateSpec{ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": "other"}},
				Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Image: "luksa/kubia:v1"}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	kubia := map[string]string{"app": "kubia"}
	node := &fakeNode{pods: []*fakePod{
		{ns: "default", name: "kubia-mine", owner: rs.Meta().UID, labels: kubia, ready: true, created: t0},
		{ns: "default", name: "kubia-orphan", owner: "gone", labels: kubia, ready: false, created: t0.Add(time.Second)},
		{ns: "default", name: "other-x", owner: other.Meta().UID, labels: kubia, ready: true, created: t0},
	}}
	c := NewController(st, node, slog.New(slog.DiscardHandler))
	if _, err := c.Reconcile(ctx, api.KeyOf(rs)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"adopt kubia-orphan", "create kubia-new3"}; !slices.Equal(node.actions, want) {
		t.Fatalf("actions %q, want %q", node.actions, want)
	}

	node.actions = nil
	got, _ := st.Get(api.KeyOf(rs))
	two := int32(2)
	got.(*api.ReplicaSet).Spec.Replicas = &two
	if _, err := st.Update(got); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reconcile(ctx, api.KeyOf(rs)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"terminate kubia-orphan"}; !slices.Equal(node.actions, want) {
		t.Fatalf("scaled to 2: actions %q, want %q", node.actions, want)
	}
}

// failingList is a store whose lists fail, as a damaged or closing database's
// would, while single reads still work.
type failingList struct{ *store.Store }

func (failingList) List(kind, namespace string) ([]api.Object, error) {
	return nil, fmt.Errorf("bbolt: read %s: input/output error", kind)
}

// A store that cannot list owners is an error, not an empty list: every pod
// would otherwise look ownerless, be adopted by whatever selector matches it
// and be scaled away.
func TestUnreadableStoreStopsTheReconcile(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	one := int32(1)
	rs, err := st.Create(&api.ReplicaSet{
		TypeMeta:   api.TypeMeta{APIVersion: "apps/v1", Kind: api.KindReplicaSet},
		ObjectMeta: api.ObjectMeta{Name: "kubia", Namespace: "default"},
		Spec: api.ReplicaSetSpec{Replicas: &one, Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": "kubia"}},
			Template: api.PodTemplateSpec{ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": "kubia"}},
				Spec: api.PodSpec{Containers: []api.Container{{Name: "c", Image: "luksa/kubia:v1"}}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	kubia := map[string]string{"app": "kubia"}
	node := &fakeNode{pods: []*fakePod{
		{ns: "default", name: "other-a", owner: "uid-of-another-rs", labels: kubia, ready: true, created: time.Now()},
		{ns: "default", name: "other-b", owner: "uid-of-another-rs", labels: kubia, ready: true, created: time.Now()},
	}}
	c := NewController(failingList{st}, node, slog.New(slog.DiscardHandler))
	if _, err := c.Reconcile(ctx, api.KeyOf(rs)); err == nil || !strings.Contains(err.Error(), "input/output error") {
		t.Fatalf("Reconcile = %v, want the store's error", err)
	}
	if len(node.actions) != 0 {
		t.Fatalf("acted on a store it could not read: %q", node.actions)
	}
}
