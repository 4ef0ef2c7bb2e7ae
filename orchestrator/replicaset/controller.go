// Package replicaset is the ReplicaSet and ReplicationController controller
// of kube-controller-manager: it keeps replicas pods of a template, asking
// the node agent to create, restart and stop them, and writes the status.
// It never touches a container or a proxy itself, and sees pods through the
// Pod and NodeAgent interfaces.
//
// Where a change goes: how many pods to create or stop, and which ones, is
// Reconcile and pickVictims; which pods belong to a workload (and adopting
// orphans) is claimPods; how a pod is created, restarted or stopped is the
// node agent's (orchestrator/node/node.go, orchestrator/node/terminate.go).
package replicaset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// Controller reconciles ReplicaSets and ReplicationControllers.
type Controller struct {
	store Store
	node  NodeAgent
	log   *slog.Logger
}

// Store is what the controller reads and writes of the store (*store.Store).
type Store interface {
	Get(api.Key) (api.Object, error)
	List(kind, namespace string) ([]api.Object, error)
	UpdateStatus(api.Object) (api.Object, error)
}

// NewController returns the controller.
func NewController(st Store, node NodeAgent, log *slog.Logger) *Controller {
	return &Controller{store: st, node: node, log: log}
}

// Pod is a pod as the controller sees it: a snapshot.
type Pod interface {
	Namespace() string
	Name() string
	OwnerUID() string
	Labels() map[string]string
	Terminating() bool
	HasContainer() bool // false while its container could not be created
	Running() bool
	Ready() bool
	ReadySince() time.Time
	Restarts() int32
	Created() time.Time
}

// NodeAgent is the node agent as the controller needs it.
type NodeAgent interface {
	// ListPods returns a snapshot of every pod, sorted by namespace and name.
	ListPods() []Pod
	// Adopt makes w the owner of p if p still has the owner it had in the
	// snapshot, and returns p as it is now.
	Adopt(p Pod, w *Workload) (Pod, bool)
	CreatePod(ctx context.Context, w *Workload) error
	// KeepPodRunning restarts p's exited container with back-off and says
	// when to look again.
	KeepPodRunning(ctx context.Context, w *Workload, p Pod) time.Duration
	TerminatePod(p Pod, w *Workload) <-chan struct{}
}

// maxBurst bounds how many pods one reconcile creates, like Kubernetes'
// slow start: a typo in replicas should not fork-bomb the engine at once.
const maxBurst = 64

// Reconcile keeps a ReplicaSet's or ReplicationController's pods at the
// desired count: claim its pods, restart exited ones with CrashLoopBackOff,
// create the missing, terminate the extra, and write the status.
func (c *Controller) Reconcile(ctx context.Context, key api.Key) (time.Duration, error) {
	obj, err := c.store.Get(key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if obj.Meta().DeletionTimestamp != nil {
		return 0, nil
	}
	w, err := WorkloadOf(obj)
	if err != nil {
		c.log.Error("invalid workload is not retried", "key", key.String(), "error", err)
		return 0, nil
	}
	// Without the list of owners, every pod would look ownerless and be
	// adopted, then scaled away: a store that cannot be read stops the
	// reconcile instead.
	pods, err := c.claimPods(w)
	if err != nil {
		return 0, err
	}
	var active []Pod
	for _, p := range pods {
		if !p.Terminating() {
			active = append(active, p)
		}
	}
	requeue := time.Duration(0)
	later := func(d time.Duration) {
		if d > 0 && (requeue == 0 || d < requeue) {
			requeue = d
		}
	}
	for _, p := range active {
		later(c.node.KeepPodRunning(ctx, w, p))
	}

	diff := int(w.Replicas) - len(active)
	if diff != 0 {
		// The status first, so that a pod that just went away stops counting
		// while its replacement is created (the engine takes a second or
		// more). With nothing to do, the status at the end is enough.
		later(c.updateReplicaStatus(w))
	}
	switch {
	case diff > 0:
		// In parallel: the engine takes about a second to start a container
		// on a bridge network, and replicas should not queue behind each other.
		n := min(diff, maxBurst)
		errs := make(chan error, n)
		for range n {
			go func() { errs <- c.node.CreatePod(ctx, w) }()
		}
		var firstErr error
		for range n {
			if err := <-errs; err != nil && firstErr == nil {
				firstErr = err
			}
		}
		if firstErr != nil {
			return 0, firstErr
		}
		if diff > maxBurst {
			later(time.Millisecond)
		}
	case diff < 0:
		for _, p := range pickVictims(active, -diff) {
			c.node.TerminatePod(p, w)
		}
	}
	later(c.updateReplicaStatus(w))
	return requeue, nil
}

// claimPods returns the pods w owns, adopting orphans its selector matches,
// with Kubernetes' ControllerRef rule: a pod whose owner is alive belongs to
// that owner alone, even when another selector matches it too.
func (c *Controller) claimPods(w *Workload) ([]Pod, error) {
	live, err := c.liveOwners()
	if err != nil {
		return nil, err
	}
	var out []Pod
	for _, p := range c.node.ListPods() {
		if p.Namespace() != w.Namespace {
			continue
		}
		if p.OwnerUID() == w.UID {
			out = append(out, p)
			continue
		}
		if live[p.OwnerUID()] || p.Terminating() || !w.Selector.Matches(p.Labels()) {
			continue
		}
		if np, ok := c.node.Adopt(p, w); ok {
			c.log.Info("adopted orphan pod", "pod", p.Name(), "owner", w.Name)
			out = append(out, np)
		}
	}
	return out, nil
}

// liveOwners is the set of UIDs of every ReplicaSet and ReplicationController.
func (c *Controller) liveOwners() (map[string]bool, error) {
	live := map[string]bool{}
	for _, kind := range []string{api.KindReplicaSet, api.KindReplicationController} {
		objs, err := c.store.List(kind, "")
		if err != nil {
			return nil, fmt.Errorf("list %s to tell owned pods from orphans: %w", api.Resource(kind), err)
		}
		for _, obj := range objs {
			if obj.Meta().DeletionTimestamp == nil {
				live[obj.Meta().UID] = true
			}
		}
	}
	return live, nil
}

// pickVictims chooses n pods to remove: those without a running container
// first, then not ready ones, then the most recently ready, the most
// restarted, the youngest. It mirrors Kubernetes' ActivePods ordering.
func pickVictims(pods []Pod, n int) []Pod {
	sorted := append([]Pod(nil), pods...)
	rank := func(p Pod) int {
		switch {
		case !p.HasContainer():
			return 0
		case !p.Running():
			return 1
		case !p.Ready():
			return 2
		}
		return 3
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		if a.Ready() && b.Ready() && !a.ReadySince().Equal(b.ReadySince()) {
			return a.ReadySince().After(b.ReadySince())
		}
		if a.Restarts() != b.Restarts() {
			return a.Restarts() > b.Restarts()
		}
		return a.Created().After(b.Created())
	})
	return sorted[:min(n, len(sorted))]
}

// updateReplicaStatus writes replicas, readyReplicas and availableReplicas
// when they changed, and returns when a ready pod becomes available.
func (c *Controller) updateReplicaStatus(w *Workload) time.Duration {
	now := time.Now()
	minReady := time.Duration(w.MinReady) * time.Second
	var replicas, ready, available int32
	var next time.Duration
	pods, err := c.claimPods(w)
	if err != nil {
		c.log.Error("replica status not updated", "workload", w.Name, "error", err)
		return time.Second
	}
	for _, p := range pods {
		if p.Terminating() {
			continue
		}
		replicas++
		if !p.Ready() || !p.Running() {
			continue
		}
		ready++
		if since := now.Sub(p.ReadySince()); since >= minReady {
			available++
		} else if d := minReady - since; next == 0 || d < next {
			next = d
		}
	}
	st := w.Status
	if st.Replicas == replicas && st.FullyLabeledReplicas == replicas && st.ReadyReplicas == ready &&
		st.AvailableReplicas == available && st.ObservedGeneration == w.Generation {
		return next
	}
	st.Replicas, st.FullyLabeledReplicas, st.ReadyReplicas, st.AvailableReplicas = replicas, replicas, ready, available
	st.ObservedGeneration = w.Generation
	w.Obj.Meta().ResourceVersion = "" // status is ours alone: last writer wins
	if _, err := c.store.UpdateStatus(w.Obj); err != nil && !errors.Is(err, store.ErrNotFound) {
		c.log.Warn("update status", "kind", w.Kind, "name", w.Name, "error", err)
		return time.Second
	}
	return next
}
