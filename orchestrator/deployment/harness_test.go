package deployment

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// The tests drive the real controller against a real store, with a few
// lines standing in for the ReplicaSet controller: it turns a ReplicaSet's
// size into pods at once, and makes them ready one step later unless the
// image is "missing".

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type recorded struct{ Type, Reason, Message string }

type recorder struct {
	mu     sync.Mutex
	events []recorded
}

func (r *recorder) Eventf(_ api.Object, eventType, reason, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, recorded{eventType, reason, fmt.Sprintf(format, args...)})
}

// take returns the events recorded since the last take.
func (r *recorder) take() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

type harness struct {
	t     testing.TB
	st    *store.Store
	c     *Controller
	clock *fakeClock
	rec   *recorder
	key   api.Key
	// broken says which ReplicaSets' pods never become ready.
	broken func(*api.ReplicaSet) bool
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &fakeClock{t: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
	rec := &recorder{}
	return &harness{
		t:      t,
		st:     st,
		c:      &Controller{Store: st, Recorder: rec, Now: clock.Now},
		clock:  clock,
		rec:    rec,
		broken: func(rs *api.ReplicaSet) bool { return image(&rs.Spec.Template) == "missing" },
	}
}

func image(t *api.PodTemplateSpec) string { return t.Spec.Containers[0].Image }

func newDeployment(name string, replicas int32, img string) *api.Deployment {
	return &api.Deployment{
		TypeMeta:   api.TypeMeta{APIVersion: "apps/v1", Kind: api.KindDeployment},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: api.DefaultNamespace},
		Spec: api.DeploymentSpec{
			Replicas: &replicas,
			Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: api.PodTemplateSpec{
				ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       api.PodSpec{Containers: []api.Container{{Name: name, Image: img}}},
			},
		},
	}
}

func rolling(surge, unavailable api.IntOrString) api.DeploymentStrategy {
	return api.DeploymentStrategy{
		Type:          api.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &api.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable},
	}
}

func (h *harness) create(d *api.Deployment) {
	h.t.Helper()
	api.SetDefaults(d)
	if _, err := h.st.Create(d); err != nil {
		h.t.Fatal(err)
	}
	h.key = api.KeyOf(d)
}

func (h *harness) deployment() *api.Deployment {
	h.t.Helper()
	obj, err := h.st.Get(h.key)
	if err != nil {
		h.t.Fatal(err)
	}
	return obj.(*api.Deployment)
}

// update changes the Deployment's spec or metadata, as a user would.
func (h *harness) update(change func(d *api.Deployment)) {
	h.t.Helper()
	d := h.deployment()
	change(d)
	if _, err := h.st.Update(d); err != nil {
		h.t.Fatal(err)
	}
}

// replicaSets returns the Deployment's ReplicaSets, oldest revision first.
func (h *harness) replicaSets() []*api.ReplicaSet {
	h.t.Helper()
	_, rss, err := getWithReplicaSets(h.st, h.key.Namespace, h.key.Name)
	if err != nil {
		h.t.Fatal(err)
	}
	sortByRevision(rss)
	return rss
}

// byImage returns the ReplicaSet running img, or nil.
func (h *harness) byImage(img string) *api.ReplicaSet {
	for _, rs := range h.replicaSets() {
		if image(&rs.Spec.Template) == img {
			return rs
		}
	}
	return nil
}

func (h *harness) reconcile() time.Duration {
	h.t.Helper()
	after, err := h.c.Reconcile(context.Background(), h.key)
	if err != nil {
		h.t.Fatalf("reconcile: %v", err)
	}
	return after
}

// simulate is one step of the ReplicaSet controller for every ReplicaSet:
// removed pods go at once (unready ones first), added pods appear unready,
// and pods that existed at the previous step become ready and available.
func (h *harness) simulate() {
	h.t.Helper()
	objs, err := h.st.List(api.KindReplicaSet, "")
	if err != nil {
		h.t.Fatal(err)
	}
	for _, obj := range objs {
		rs := obj.(*api.ReplicaSet)
		before := rs.Status
		n, st := rsReplicas(rs), &rs.Status
		switch {
		case n < st.Replicas:
			st.Replicas = n
			st.ReadyReplicas = min(st.ReadyReplicas, n)
			st.AvailableReplicas = min(st.AvailableReplicas, n)
		case n > st.Replicas:
			st.Replicas = n
		case !h.broken(rs):
			st.ReadyReplicas = n
			st.AvailableReplicas = n
		}
		st.ObservedGeneration = rs.Generation
		// Skipping unchanged writes keeps the test fast: every store
		// transaction is an fsync, even one that changes nothing.
		if before.Replicas == st.Replicas && before.ReadyReplicas == st.ReadyReplicas &&
			before.AvailableReplicas == st.AvailableReplicas && before.ObservedGeneration == st.ObservedGeneration {
			continue
		}
		if _, err := h.st.UpdateStatus(rs); err != nil {
			h.t.Fatal(err)
		}
	}
}

// deletePods takes n pods away from rs's status, as if they had died; the
// next simulate step replaces them.
func (h *harness) deletePods(rs *api.ReplicaSet, n int32) {
	h.t.Helper()
	n = min(n, rs.Status.Replicas)
	rs.Status.Replicas -= n
	rs.Status.ReadyReplicas = min(rs.Status.ReadyReplicas, rs.Status.Replicas)
	rs.Status.AvailableReplicas = min(rs.Status.AvailableReplicas, rs.Status.Replicas)
	if _, err := h.st.UpdateStatus(rs); err != nil {
		h.t.Fatal(err)
	}
}

// step is one reconcile and one simulate, with check after each.
func (h *harness) step(check func()) {
	h.t.Helper()
	h.reconcile()
	if check != nil {
		check()
	}
	h.simulate()
	if check != nil {
		check()
	}
}

// settle steps until a whole step writes nothing.
func (h *harness) settle(check func()) {
	h.t.Helper()
	for range 200 {
		before := h.st.ResourceVersion()
		h.step(check)
		if h.st.ResourceVersion() == before {
			return
		}
	}
	h.t.Fatalf("no steady state after 200 steps:\n%s", h.dump())
}

// totals sums the Deployment's ReplicaSets: sizes and available pods.
func (h *harness) totals() (size, available int32) {
	rss := h.replicaSets()
	return sumSpec(rss), sumAvailable(rss)
}

func (h *harness) dump() string {
	var b strings.Builder
	d := h.deployment()
	fmt.Fprintf(&b, "deployment %s replicas=%d paused=%v gen=%d status=%+v\n", d.Name, replicasOf(d), d.Spec.Paused, d.Generation, d.Status)
	for _, rs := range h.replicaSets() {
		fmt.Fprintf(&b, "  rs %s rev=%s image=%s spec=%d status=%+v\n", rs.Name, rs.Annotations[api.AnnotationRevision], image(&rs.Spec.Template), rsReplicas(rs), rs.Status)
	}
	return b.String()
}

func messages(evs []recorded) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Message)
	}
	return out
}

func condition(d *api.Deployment, typ string) api.Condition {
	if c := getCondition(&d.Status, typ); c != nil {
		return *c
	}
	return api.Condition{}
}

func setImage(img string) func(*api.Deployment) {
	return func(d *api.Deployment) { d.Spec.Template.Spec.Containers[0].Image = img }
}

// requireConverged checks the end state of a rollout: one ReplicaSet with
// every replica, the others empty, and the status saying so.
func (h *harness) requireConverged() {
	h.t.Helper()
	d := h.deployment()
	n := replicasOf(d)
	var full []*api.ReplicaSet
	for _, rs := range h.replicaSets() {
		switch {
		case rsReplicas(rs) == 0:
		case rsReplicas(rs) == n && equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template):
			full = append(full, rs)
		default:
			h.t.Fatalf("replica set %s has %d replicas; want 0 or the new one with %d\n%s", rs.Name, rsReplicas(rs), n, h.dump())
		}
	}
	if n > 0 && len(full) != 1 {
		h.t.Fatalf("%d replica sets with all %d replicas; want 1\n%s", len(full), n, h.dump())
	}
	st := d.Status
	if st.UpdatedReplicas != n || st.AvailableReplicas != n || st.Replicas != n || st.ObservedGeneration != d.Generation {
		h.t.Fatalf("status %+v; want %d updated, available and total, generation %d observed", st, n, d.Generation)
	}
}
