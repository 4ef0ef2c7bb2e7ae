package orchestrator

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// replicaSetController is the ReplicaSet and ReplicationController
// controller of kube-controller-manager: it keeps replicas pods of a
// template, asking the node agent to create, restart and stop them, and
// writes the status. It never touches a container or a proxy itself.
type replicaSetController struct {
	store *store.Store
	pods  *podCache
	node  podAgent
	log   *slog.Logger
}

// podAgent is the node agent as the ReplicaSet controller needs it.
type podAgent interface {
	createPod(ctx context.Context, w *workload) error
	keepPodRunning(ctx context.Context, w *workload, p *pod) time.Duration
	terminatePod(p *pod, owner *workload) <-chan struct{}
}

// maxBurst bounds how many pods one reconcile creates, like Kubernetes'
// slow start: a typo in replicas should not fork-bomb the engine at once.
const maxBurst = 64

// Reconcile keeps a ReplicaSet's or ReplicationController's pods at the
// desired count: claim its pods, restart exited ones with CrashLoopBackOff,
// create the missing, terminate the extra, and write the status.
func (c *replicaSetController) Reconcile(ctx context.Context, key api.Key) (time.Duration, error) {
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
	w, err := workloadOf(obj)
	if err != nil {
		c.log.Error("invalid workload is not retried", "key", key.String(), "error", err)
		return 0, nil
	}
	pods := c.claimPods(w)
	var active []*pod
	for _, p := range pods {
		if p.active() {
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
		later(c.node.keepPodRunning(ctx, w, p))
	}

	diff := int(w.replicas) - len(active)
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
			go func() { errs <- c.node.createPod(ctx, w) }()
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
			c.node.terminatePod(p, w)
		}
	}
	later(c.updateReplicaStatus(w))
	return requeue, nil
}

// claimPods returns the pods w owns, adopting orphans its selector matches,
// with Kubernetes' ControllerRef rule: a pod whose owner is alive belongs to
// that owner alone, even when another selector matches it too.
func (c *replicaSetController) claimPods(w *workload) []*pod {
	live := c.liveOwners()
	var out []*pod
	for _, p := range c.pods.snapshot() {
		if p.namespace != w.namespace {
			continue
		}
		if p.ownerUID == w.uid {
			out = append(out, p)
			continue
		}
		if live[p.ownerUID] || p.terminating || !w.selector.Matches(p.labels) {
			continue
		}
		adopted := c.pods.update(p.namespace, p.name, func(cp *pod) {
			if cp.ownerUID == p.ownerUID { // nobody adopted it meanwhile
				cp.ownerKind, cp.ownerName, cp.ownerUID = w.kind, w.name, w.uid
			}
		})
		if np, ok := c.pods.get(p.namespace, p.name); adopted && ok && np.ownerUID == w.uid {
			c.log.Info("adopted orphan pod", "pod", p.name, "owner", w.name)
			out = append(out, np)
		}
	}
	return out
}

// liveOwners is the set of UIDs of every ReplicaSet and ReplicationController.
func (c *replicaSetController) liveOwners() map[string]bool {
	live := map[string]bool{}
	for _, kind := range []string{api.KindReplicaSet, api.KindReplicationController} {
		objs, err := c.store.List(kind, "")
		if err != nil {
			c.log.Error("list", "kind", kind, "error", err)
		}
		for _, obj := range objs {
			if obj.Meta().DeletionTimestamp == nil {
				live[obj.Meta().UID] = true
			}
		}
	}
	return live
}

// pickVictims chooses n pods to remove: those without a running container
// first, then not ready ones, then the most recently ready, the most
// restarted, the youngest. It mirrors Kubernetes' ActivePods ordering.
func pickVictims(pods []*pod, n int) []*pod {
	sorted := append([]*pod(nil), pods...)
	rank := func(p *pod) int {
		switch {
		case p.container.ID == "":
			return 0
		case !p.running():
			return 1
		case !p.ready:
			return 2
		}
		return 3
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		if a.ready && b.ready && !a.readySince.Equal(b.readySince) {
			return a.readySince.After(b.readySince)
		}
		if a.restarts != b.restarts {
			return a.restarts > b.restarts
		}
		return a.created.After(b.created)
	})
	return sorted[:min(n, len(sorted))]
}

// updateReplicaStatus writes replicas, readyReplicas and availableReplicas
// when they changed, and returns when a ready pod becomes available.
func (c *replicaSetController) updateReplicaStatus(w *workload) time.Duration {
	now := time.Now()
	minReady := time.Duration(w.minReady) * time.Second
	var replicas, ready, available int32
	var next time.Duration
	for _, p := range c.claimPods(w) {
		if !p.active() {
			continue
		}
		replicas++
		if !p.ready || !p.running() {
			continue
		}
		ready++
		if since := now.Sub(p.readySince); since >= minReady {
			available++
		} else if d := minReady - since; next == 0 || d < next {
			next = d
		}
	}
	st := w.status
	if st.Replicas == replicas && st.FullyLabeledReplicas == replicas && st.ReadyReplicas == ready &&
		st.AvailableReplicas == available && st.ObservedGeneration == w.generation {
		return next
	}
	st.Replicas, st.FullyLabeledReplicas, st.ReadyReplicas, st.AvailableReplicas = replicas, replicas, ready, available
	st.ObservedGeneration = w.generation
	w.obj.Meta().ResourceVersion = "" // status is ours alone: last writer wins
	if _, err := c.store.UpdateStatus(w.obj); err != nil && !errors.Is(err, store.ErrNotFound) {
		c.log.Warn("update status", "kind", w.kind, "name", w.name, "error", err)
		return time.Second
	}
	return next
}
