package diff

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/deployment"
	"github.com/mini-deploy/mini-deploy/orchestrator/replicaset"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// mini is mini-deploy's side: its Deployment and ReplicaSet controllers on a
// store of their own, reconciled in turn until nothing changes, with
// miniNode standing in for the node agent (pods that run at once and are
// ready when the scenario says, as k8stest's kubelet does on the other side).
type mini struct {
	st   *store.Store
	dc   *deployment.Controller
	rc   *replicaset.Controller
	node *miniNode
	key  api.Key
}

func newMini(t *testing.T) *mini {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	node := &miniNode{pods: map[string]*miniPod{}, readyOrder: map[string]int{}}
	return &mini{
		st:   st,
		dc:   &deployment.Controller{Store: st, Recorder: nopRecorder{}, Log: log},
		rc:   replicaset.NewController(st, node, log),
		node: node,
	}
}

type nopRecorder struct{}

func (nopRecorder) Eventf(api.Object, string, string, string, ...any) {}

func (m *mini) create(t *testing.T, manifest string) {
	objs, err := api.DecodeManifests("scenario.yaml", []byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		api.SetDefaults(o)
	}
	if err := api.ValidateApply(objs); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if _, err := m.st.Create(o); err != nil {
			t.Fatal(err)
		}
		if o.GetTypeMeta().Kind == api.KindDeployment || m.key.Name == "" {
			m.key = api.KeyOf(o)
		}
	}
}

func (m *mini) deployment(t *testing.T) *api.Deployment {
	obj, err := m.st.Get(m.key)
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*api.Deployment)
}

func (m *mini) update(t *testing.T, change func(d *api.Deployment)) {
	d := m.deployment(t)
	change(d)
	if _, err := m.st.Update(d); err != nil {
		t.Fatal(err)
	}
}

func (m *mini) setImage(t *testing.T, img string) {
	m.update(t, func(d *api.Deployment) { d.Spec.Template.Spec.Containers[0].Image = img })
}

func (m *mini) scale(t *testing.T, n int32) {
	obj, err := m.st.Get(m.key)
	if err != nil {
		t.Fatal(err)
	}
	switch o := obj.(type) {
	case *api.Deployment:
		o.Spec.Replicas = &n
	case *api.ReplicaSet:
		o.Spec.Replicas = &n
	case *api.ReplicationController:
		o.Spec.Replicas = &n
	}
	if _, err := m.st.Update(obj); err != nil {
		t.Fatal(err)
	}
}

func (m *mini) setPaused(t *testing.T, paused bool) {
	m.update(t, func(d *api.Deployment) { d.Spec.Paused = paused })
}

func (m *mini) undo(t *testing.T) {
	if _, err := deployment.Rollback(m.st, m.key.Namespace, m.key.Name, 0); err != nil {
		t.Fatalf("rollback: %v", err)
	}
}

// owners returns the ReplicaSets and ReplicationControllers in the store.
func (m *mini) owners(t *testing.T) []api.Object {
	var out []api.Object
	for _, kind := range []string{api.KindReplicaSet, api.KindReplicationController} {
		objs, err := m.st.List(kind, "")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, objs...)
	}
	return out
}

// settle reconciles the Deployment, then every ReplicaSet, until a whole
// round changes nothing in the store or on the node.
func (m *mini) settle(t *testing.T) {
	ctx := context.Background()
	for range 200 {
		before, nodeBefore := m.st.ResourceVersion(), m.node.version()
		if m.key.Kind == api.KindDeployment {
			if _, err := m.dc.Reconcile(ctx, m.key); err != nil {
				t.Fatalf("deployment reconcile: %v", err)
			}
		}
		for _, o := range m.owners(t) {
			if _, err := m.rc.Reconcile(ctx, api.KeyOf(o)); err != nil {
				t.Fatalf("replicaset reconcile %s: %v", o.Meta().Name, err)
			}
		}
		if m.st.ResourceVersion() == before && m.node.version() == nodeBefore {
			return
		}
	}
	t.Fatal("mini-deploy: no steady state after 200 rounds")
}

// revisionUIDs maps each ReplicaSet's UID to its revision ("" for an owner
// that has none, such as a bare ReplicaSet or ReplicationController).
func (m *mini) revisionUIDs(t *testing.T) map[string]string {
	out := map[string]string{}
	for _, o := range m.owners(t) {
		out[o.Meta().UID] = o.Meta().Annotations[api.AnnotationRevision]
	}
	return out
}

func (m *mini) ready(t *testing.T, rev string, n int) int {
	return m.node.setReady(m.revisionUIDs(t), rev, n, true)
}

func (m *mini) unready(t *testing.T, rev string, n int) int {
	return m.node.setReady(m.revisionUIDs(t), rev, n, false)
}

func (m *mini) snapshot(t *testing.T) snapshot {
	d := m.deployment(t)
	var s snapshot
	s.Revision = d.Annotations[api.AnnotationRevision]
	st := d.Status
	s.Status = [5]int32{st.Replicas, st.UpdatedReplicas, st.ReadyReplicas, st.AvailableReplicas, st.UnavailableReplicas}
	names := map[string]string{}
	for _, o := range m.owners(t) {
		rs, ok := o.(*api.ReplicaSet)
		if !ok || !api.OwnedBy(rs, d.UID) {
			continue
		}
		rev := rs.Annotations[api.AnnotationRevision]
		names[rs.Name] = "web-<rev " + rev + ">"
		s.RS = append(s.RS, rsSnap{
			Revision: rev, Image: rs.Spec.Template.Spec.Containers[0].Image,
			Spec: api.Replicas(rs.Spec.Replicas), Replicas: rs.Status.Replicas,
			Ready: rs.Status.ReadyReplicas, Available: rs.Status.AvailableReplicas,
			DesiredAnn: rs.Annotations["deployment.kubernetes.io/desired-replicas"],
			MaxSurge:   rs.Annotations["deployment.kubernetes.io/max-replicas"],
		})
	}
	for _, c := range d.Status.Conditions {
		s.Conditions = append(s.Conditions, conditionString(c.Type, c.Status, c.Reason, c.Message, names))
	}
	return s.normal()
}

// miniNode is the node agent for mini-deploy's ReplicaSet controller: a pod
// is created running and not ready, becomes ready when the scenario says, and
// is gone as soon as it is terminated.
type miniNode struct {
	mu   sync.Mutex
	pods map[string]*miniPod
	seq  int
	ver  int
	// readyOrder numbers pods in the order they were first made ready.
	readyOrder map[string]int
}

type miniPod struct {
	ns, name, owner     string
	labels              map[string]string
	terminating, ready  bool
	readySince, created time.Time
	seq                 int
}

func (p miniPod) Namespace() string         { return p.ns }
func (p miniPod) Name() string              { return p.name }
func (p miniPod) OwnerUID() string          { return p.owner }
func (p miniPod) Labels() map[string]string { return p.labels }
func (p miniPod) Terminating() bool         { return p.terminating }
func (p miniPod) HasContainer() bool        { return true }
func (p miniPod) Running() bool             { return true }
func (p miniPod) Ready() bool               { return p.ready }
func (p miniPod) ReadySince() time.Time     { return p.readySince }
func (p miniPod) Restarts() int32           { return 0 }
func (p miniPod) Created() time.Time        { return p.created }

func (n *miniNode) version() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ver
}

func (n *miniNode) ListPods() []replicaset.Pod {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []replicaset.Pod
	for _, p := range n.sorted() {
		out = append(out, *p)
	}
	return out
}

// sorted returns the pods in creation order.
func (n *miniNode) sorted() []*miniPod {
	var out []*miniPod
	for _, p := range n.pods {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

func (n *miniNode) Adopt(p replicaset.Pod, w *replicaset.Workload) (replicaset.Pod, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	cur, ok := n.pods[p.Name()]
	if !ok || cur.owner != p.OwnerUID() {
		return nil, false
	}
	cur.owner = w.UID
	n.ver++
	return *cur, true
}

func (n *miniNode) CreatePod(_ context.Context, w *replicaset.Workload) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seq++
	labels := map[string]string{}
	for k, v := range w.Template.Labels {
		labels[k] = v
	}
	p := &miniPod{ns: w.Namespace, name: fmt.Sprintf("%s-%05d", w.Name, n.seq), owner: w.UID,
		labels: labels, created: time.Now(), seq: n.seq}
	n.pods[p.name] = p
	n.ver++
	return nil
}

func (n *miniNode) KeepPodRunning(context.Context, *replicaset.Workload, replicaset.Pod) time.Duration {
	return 0
}

func (n *miniNode) TerminatePod(p replicaset.Pod, _ *replicaset.Workload) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.pods, p.Name())
	n.ver++
	done := make(chan struct{})
	close(done)
	return done
}

// setReady sets readiness on up to count pods (count < 0: all) whose owner
// has revision rev ("" any), oldest first, and returns how many changed.
func (n *miniNode) setReady(revs map[string]string, rev string, count int, ready bool) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	changed := 0
	now := time.Now()
	for _, p := range n.sorted() {
		if count >= 0 && changed >= count {
			break
		}
		r, owned := revs[p.owner]
		if !owned || (rev != "" && r != rev) || p.ready == ready {
			continue
		}
		p.ready = ready
		if ready {
			p.readySince = now
			if _, seen := n.readyOrder[p.name]; !seen {
				n.readyOrder[p.name] = len(n.readyOrder) + 1
			}
		}
		changed++
	}
	if changed > 0 {
		n.ver++
	}
	return changed
}

func (m *mini) survivors(*testing.T) []int {
	m.node.mu.Lock()
	defer m.node.mu.Unlock()
	var out []int
	for _, p := range m.node.pods {
		out = append(out, m.node.readyOrder[p.name])
	}
	sort.Ints(out)
	return out
}
