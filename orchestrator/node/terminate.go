package node

import (
	"context"
	"errors"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/replicaset"
	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// defaultGracePeriod is Kubernetes' terminationGracePeriodSeconds default.
const defaultGracePeriod = 30 * time.Second

// terminatePod stops a pod by the termination protocol every stop path uses:
// mark it terminating (it stops counting as a replica and leaves every
// Service's endpoints), wait until every proxy has drained it, then SIGTERM,
// SIGKILL after the grace period, and remove the container. Kubernetes sends
// SIGTERM while endpoints are still being updated (kubernetes#43576); here
// the signal waits until the proxies confirm the pod is out and idle.
//
// It returns at once; the stop runs in the background. owner (may be nil)
// gets the "Deleted pod" event and is reconciled when the pod is gone.
func (n *Agent) terminatePod(p *pod, owner *replicaset.Workload) <-chan struct{} {
	return n.terminatePodWithin(p, owner, gracePeriod(p))
}

// terminatePodWithin is terminatePod with a grace period other than the
// pod's own (delete --grace-period): it bounds the drain and the wait
// between SIGTERM and SIGKILL together.
func (n *Agent) terminatePodWithin(p *pod, owner *replicaset.Workload, grace time.Duration) <-chan struct{} {
	done := make(chan struct{})
	already, creating := false, false
	n.pods.update(p.namespace, p.name, func(cp *pod) {
		already, creating = cp.terminating, cp.creating
		cp.terminating, cp.ready = true, false
	})
	if already || creating {
		// A pod whose container is being created is removed by
		// recordStarted, the moment the engine hands the container over.
		if !already {
			n.requeueOwner(p)
		}
		close(done)
		return done
	}
	n.drainer.PushNamespace(p.namespace)
	n.prober.syncProbes()
	// The pod no longer counts as a replica: its owner replaces it now, not
	// once it has stopped, and its status stops counting it ready.
	n.requeueOwner(p)
	if owner != nil {
		n.recorder.Eventf(owner.Obj, api.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.name)
	}
	if p.container.ID != "" {
		podEventf(n.recorder, p, api.EventTypeNormal, "Killing", "Stopping container %s", p.containerName())
	}
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		defer close(done)
		deadline := time.Now().Add(grace)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		if p.running() {
			n.drainer.DrainPod(ctx, n.addrs.endpoint(p, n.services.In(p.namespace)))
		}
		if p.container.ID != "" {
			stopCtx, stopCancel := context.WithTimeout(context.Background(), grace+10*time.Second)
			// At least a second for SIGTERM, as the kubelet gives, unless the
			// deletion was forced with a grace period of 0: then SIGKILL.
			stopGrace := max(time.Until(deadline), time.Second)
			if grace == 0 {
				stopGrace = 0
			}
			err := n.rt.Stop(stopCtx, p.container.ID, stopGrace)
			if err == nil || errors.Is(err, rt.ErrNotFound) {
				err = n.rt.Remove(stopCtx, p.container.ID)
			}
			stopCancel()
			if err != nil && !errors.Is(err, rt.ErrNotFound) {
				n.log.Warn("remove pod", "pod", p.name, "error", err)
				// Leave it terminating: the relist finds it gone or still there,
				// and a retry comes from the owner's next scale-down.
				n.pods.update(p.namespace, p.name, func(cp *pod) { cp.terminating = false })
				n.requeueOwner(p)
				return
			}
		}
		n.pods.remove(p.namespace, p.name)
		n.records.forget(p)
		n.log.Info("pod terminated", "pod", p.name)
		n.requeueOwner(p)
	}()
	return done
}

func (n *Agent) requeueOwner(p *pod) {
	if p.ownerKind != "" {
		n.enqueue(api.Key{Kind: p.ownerKind, Namespace: p.namespace, Name: p.ownerName})
	}
}

func gracePeriod(p *pod) time.Duration {
	if g := p.spec.TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return defaultGracePeriod
}
