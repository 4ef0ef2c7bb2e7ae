package deployment

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// PlanStep is one ReplicaSet resize of a planned rollout and the counts
// right after it: Old and New are the sizes asked of the old ReplicaSets and
// of the new one, Total their sum, Available the pods still serving.
type PlanStep struct {
	Step                       int
	Action                     string
	Old, New, Available, Total int32
}

// String prints a step on one line.
func (p PlanStep) String() string {
	return fmt.Sprintf("%d. %s (old %d, new %d, available %d, total %d)", p.Step, p.Action, p.Old, p.New, p.Available, p.Total)
}

// Plan is a dry run of the rollout that would follow giving d the template
// newTemplate and replicas (nil: unchanged), starting from the ReplicaSets
// rss. It runs the controller's own sync over an in-memory copy and assumes
// that every pod created becomes available by the next pass, so it shows the
// fastest path the strategy allows. A paused Deployment is planned as if
// resumed. Nothing is written.
func Plan(d *api.Deployment, rss []*api.ReplicaSet, newTemplate *api.PodTemplateSpec, replicas *int32) ([]PlanStep, error) {
	dd := d.DeepCopy().(*api.Deployment)
	if newTemplate != nil {
		dd.Spec.Template = *api.Copy(newTemplate)
	}
	if replicas != nil {
		n := *replicas
		dd.Spec.Replicas = &n
	}
	dd.Spec.Paused = false
	dd.Generation++
	if _, _, err := fenceposts(dd); err != nil {
		return nil, fmt.Errorf("deployment %q: %w", d.Name, err)
	}

	mem := newMemObjects(dd)
	for _, rs := range rss {
		if ownedBy(rs, d) || controllerOf(&rs.ObjectMeta) == nil {
			mem.add(rs)
		}
	}
	var steps []PlanStep
	s := &syncer{
		objs: mem,
		now:  func() time.Time { return mem.epoch },
		log:  discardLogger(),
		onScale: func(rs *api.ReplicaSet, from, to int32) {
			verb := "up"
			if to < from {
				verb = "down"
			}
			old, cur, avail := mem.counts()
			steps = append(steps, PlanStep{
				Step:      len(steps) + 1,
				Action:    fmt.Sprintf("scale %s %s to %d", verb, rs.Name, to),
				Old:       old,
				New:       cur,
				Available: avail,
				Total:     old + cur,
			})
		},
	}

	// Each pass moves at least one replica, and no replica moves twice in
	// one direction, so this bound is generous; it guards against a bug
	// turning the dry run into an endless one.
	bound := 4*(sumSpec(mem.list())+replicasOf(dd)+maxSurge(dd)) + 10
	idle := 0
	for range bound {
		before := len(steps)
		if _, err := s.syncDeployment(mem.deployment(), mem.list()); err != nil {
			return steps, fmt.Errorf("plan for deployment %q: %w", d.Name, err)
		}
		mem.settle()
		if len(steps) > before {
			idle = 0
			continue
		}
		if mem.done() {
			return steps, nil
		}
		// A pass may only write annotations or status; two in a row
		// without a step and without being done means it is stuck.
		if idle++; idle > 1 {
			return steps, fmt.Errorf("plan for deployment %q: rollout stalls after %d steps", d.Name, len(steps))
		}
	}
	return steps, fmt.Errorf("plan for deployment %q: no end after %d passes", d.Name, bound)
}

// memObjects stands in for the store during a plan. Resizing a ReplicaSet
// acts at once, as far as counting goes: shrinking removes pods (the
// unavailable ones first, as the ReplicaSet controller does) and growing
// adds pods that are not available yet; settle makes them available.
type memObjects struct {
	d     *api.Deployment
	rss   map[string]*api.ReplicaSet
	rev   int
	epoch time.Time
}

func newMemObjects(d *api.Deployment) *memObjects {
	return &memObjects{d: d, rss: map[string]*api.ReplicaSet{}, epoch: time.Now().UTC().Truncate(time.Second)}
}

func (m *memObjects) nextVersion() string {
	m.rev++
	return "plan-" + strconv.Itoa(m.rev)
}

func (m *memObjects) add(rs *api.ReplicaSet) {
	cp := rs.DeepCopy().(*api.ReplicaSet)
	if controllerOf(&cp.ObjectMeta) == nil {
		cp.OwnerReferences = append(cp.OwnerReferences, ownerRef(m.d))
	}
	if cp.CreationTimestamp.After(m.epoch) {
		m.epoch = cp.CreationTimestamp.Time
	}
	m.rss[cp.Name] = cp
}

func (m *memObjects) deployment() *api.Deployment { return m.d.DeepCopy().(*api.Deployment) }

func (m *memObjects) list() []*api.ReplicaSet {
	var out []*api.ReplicaSet
	for _, name := range slices.Sorted(maps.Keys(m.rss)) {
		out = append(out, m.rss[name].DeepCopy().(*api.ReplicaSet))
	}
	return out
}

func (m *memObjects) getReplicaSet(_, name string) (*api.ReplicaSet, error) {
	rs, ok := m.rss[name]
	if !ok {
		return nil, fmt.Errorf("replicasets %q: %w", name, store.ErrNotFound)
	}
	return rs.DeepCopy().(*api.ReplicaSet), nil
}

func (m *memObjects) createReplicaSet(rs *api.ReplicaSet) (*api.ReplicaSet, error) {
	if _, ok := m.rss[rs.Name]; ok {
		return nil, fmt.Errorf("replicasets %q: %w", rs.Name, store.ErrAlreadyExists)
	}
	cp := rs.DeepCopy().(*api.ReplicaSet)
	// Later than everything else, so that ordering by age holds.
	m.epoch = m.epoch.Add(time.Second)
	cp.CreationTimestamp = api.Time{Time: m.epoch}
	cp.UID = "plan-" + cp.Name
	cp.ResourceVersion = m.nextVersion()
	cp.Generation = 1
	resize(cp)
	m.rss[cp.Name] = cp
	return cp.DeepCopy().(*api.ReplicaSet), nil
}

func (m *memObjects) updateReplicaSet(rs *api.ReplicaSet) (*api.ReplicaSet, error) {
	cur, ok := m.rss[rs.Name]
	if !ok {
		return nil, fmt.Errorf("replicasets %q: %w", rs.Name, store.ErrNotFound)
	}
	cp := rs.DeepCopy().(*api.ReplicaSet)
	cp.ResourceVersion = m.nextVersion()
	cp.Generation = cur.Generation
	if rsReplicas(cp) != rsReplicas(cur) {
		cp.Generation++
	}
	resize(cp)
	m.rss[cp.Name] = cp
	return cp.DeepCopy().(*api.ReplicaSet), nil
}

func (m *memObjects) deleteReplicaSet(rs *api.ReplicaSet) error {
	delete(m.rss, rs.Name)
	return nil
}

func (m *memObjects) updateDeployment(d *api.Deployment) (*api.Deployment, error) {
	cp := d.DeepCopy().(*api.Deployment)
	cp.ResourceVersion = m.nextVersion()
	m.d = cp
	return cp.DeepCopy().(*api.Deployment), nil
}

// resize is the ReplicaSet controller acting on a new size at once.
func resize(rs *api.ReplicaSet) {
	n := rsReplicas(rs)
	rs.Status.Replicas = n
	rs.Status.ReadyReplicas = min(rs.Status.ReadyReplicas, n)
	rs.Status.AvailableReplicas = min(rs.Status.AvailableReplicas, n)
	rs.Status.ObservedGeneration = rs.Generation
}

// settle makes every pod available, the plan's assumption between passes.
func (m *memObjects) settle() {
	for _, rs := range m.rss {
		rs.Status.ReadyReplicas = rs.Status.Replicas
		rs.Status.AvailableReplicas = rs.Status.Replicas
	}
}

// counts returns the old and new sizes and the available pods now.
func (m *memObjects) counts() (old, cur, available int32) {
	for _, rs := range m.rss {
		if equalIgnoreHash(&rs.Spec.Template, &m.d.Spec.Template) {
			cur += rsReplicas(rs)
		} else {
			old += rsReplicas(rs)
		}
		available += rs.Status.AvailableReplicas
	}
	return old, cur, available
}

// done: the new ReplicaSet holds every replica and no old one has any.
func (m *memObjects) done() bool {
	old, cur, available := m.counts()
	n := replicasOf(m.d)
	return old == 0 && cur == n && available == n
}
