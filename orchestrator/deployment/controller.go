// Package deployment is mini-deploy's Deployment controller: Kubernetes'
// pkg/controller/deployment, rewritten for one machine.
//
// A Deployment never touches a pod. It owns one ReplicaSet per version of its
// pod template, named <deployment>-<pod-template-hash>, and a rollout is
// nothing but resizing those ReplicaSets: grow the new one, shrink the old
// ones, within maxSurge pods above and maxUnavailable pods below the desired
// count (RollingUpdate), or empty the old ones before filling the new one
// (Recreate). The ReplicaSet controller turns sizes into pods and reports
// how many are ready and available; this controller reads those counts and
// takes the next step. It keeps no state of its own: everything it needs to
// resume a rollout after a crash is in the store, on the ReplicaSets'
// annotations (revision, desired-replicas, max-replicas) and in the
// Deployment's status.
//
// Reconcile reads a Deployment, adopts the ReplicaSets its selector matches,
// and then, in Kubernetes' order: reports a pause, only scales while paused
// or when replicas changed (proportionally across an unfinished rollout),
// and otherwise rolls out. It finishes by writing status and the Progressing
// and Available conditions; when it must wait for the progress deadline it
// returns the time to come back, never sleeping.
//
// Two things go beyond Kubernetes. A Deployment annotated
// mini-deploy.io/auto-rollback: "true" whose rollout misses its progress
// deadline goes back, by itself, to the newest revision that once completed.
// And Plan replays a proposed change through the same arithmetic, in memory,
// to show the steps a rollout will take before it starts.
//
// Where a change goes: rollout arithmetic (surge, unavailable, proportional
// scaling) is rolling.go and util.go; history and undo are history.go and
// rollback.go; what `rollout plan` prints is plan.go.
package deployment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/labels"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// Recorder records events about an object, as `describe` shows them.
type Recorder interface {
	Eventf(obj api.Object, eventType, reason, format string, args ...any)
}

// Controller reconciles Deployments into ReplicaSets.
type Controller struct {
	Store    *store.Store
	Recorder Recorder
	Now      func() time.Time // nil: time.Now
	Log      *slog.Logger     // nil: discard
}

// Reconcile syncs one Deployment (key.Kind == api.KindDeployment) by
// creating, scaling and deleting its ReplicaSets and updating its status. It
// never sleeps: when it must wait (for the progress deadline) it returns
// requeueAfter > 0. A Deployment that no longer exists returns (0, nil).
func (c *Controller) Reconcile(ctx context.Context, key api.Key) (requeueAfter time.Duration, err error) {
	if key.Kind != api.KindDeployment {
		return 0, fmt.Errorf("deployment controller: cannot reconcile a %s", key.Kind)
	}
	// The store does not take a context; a pass is short, so a cancelled
	// one is only refused at the start.
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	obj, err := c.Store.Get(key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	d, ok := obj.(*api.Deployment)
	if !ok {
		return 0, fmt.Errorf("deployment controller: %s holds a %T", key, obj)
	}
	s := &syncer{objs: storeObjects{c.Store}, now: c.Now, rec: c.Recorder, log: c.logger().With("deployment", key.Namespace+"/"+key.Name)}
	rsList, err := c.claimReplicaSets(d)
	if err != nil {
		return 0, err
	}
	return s.syncDeployment(d, rsList)
}

func (c *Controller) logger() *slog.Logger {
	if c.Log == nil {
		return discardLogger()
	}
	return c.Log
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// claimReplicaSets returns the ReplicaSets d controls, after adopting orphans
// its selector matches and releasing its own that no longer match, as
// Kubernetes' ControllerRefManager does. ReplicaSets controlled by anything
// else are left alone, even when the selector matches them.
func (c *Controller) claimReplicaSets(d *api.Deployment) ([]*api.ReplicaSet, error) {
	objs, err := c.Store.List(api.KindReplicaSet, api.KeyOf(d).Namespace)
	if err != nil {
		return nil, err
	}
	var sel labels.Selector
	if !selectsEverything(d.Spec.Selector) {
		if sel, err = selectorOf(d); err != nil {
			return nil, err
		}
	}
	matches := func(rs *api.ReplicaSet) bool { return sel != nil && sel.Matches(rs.Labels) }
	var owned []*api.ReplicaSet
	adoptionChecked := false
	for _, obj := range objs {
		rs := obj.(*api.ReplicaSet)
		if ref := controllerOf(&rs.ObjectMeta); ref != nil {
			if ref.UID != d.UID {
				continue
			}
			switch {
			case matches(rs):
				owned = append(owned, rs)
			case d.DeletionTimestamp == nil:
				if err := c.release(rs, d); err != nil {
					return nil, err
				}
			}
			continue
		}
		if d.DeletionTimestamp != nil || rs.DeletionTimestamp != nil || !matches(rs) {
			continue
		}
		// Adopt only for the Deployment we read: if it was deleted and
		// recreated meanwhile, the new one will claim on its own sync.
		if !adoptionChecked {
			fresh, err := c.Store.Get(api.KeyOf(d))
			if err != nil {
				return nil, err
			}
			if fresh.Meta().UID != d.UID || fresh.Meta().DeletionTimestamp != nil {
				return nil, fmt.Errorf("deployment %q: changed while adopting replica sets", d.Name)
			}
			adoptionChecked = true
		}
		cp := rs.DeepCopy().(*api.ReplicaSet)
		cp.OwnerReferences = append(cp.OwnerReferences, ownerRef(d))
		out, err := c.Store.Update(cp)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("deployment %q: adopt replica set %q: %w", d.Name, rs.Name, err)
		}
		c.logger().Info("adopted replica set", "deployment", d.Name, "replicaset", rs.Name)
		owned = append(owned, out.(*api.ReplicaSet))
	}
	return owned, nil
}

// release drops d's controller reference from rs, whose labels no longer
// match d's selector.
func (c *Controller) release(rs *api.ReplicaSet, d *api.Deployment) error {
	cp := rs.DeepCopy().(*api.ReplicaSet)
	refs := cp.OwnerReferences[:0]
	for _, r := range cp.OwnerReferences {
		if r.UID != d.UID {
			refs = append(refs, r)
		}
	}
	cp.OwnerReferences = refs
	if _, err := c.Store.Update(cp); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("deployment %q: release replica set %q: %w", d.Name, rs.Name, err)
	}
	c.logger().Info("released replica set", "deployment", d.Name, "replicaset", rs.Name)
	return nil
}

// objectStore is what a sync writes through: the store when reconciling,
// an in-memory copy when planning.
type objectStore interface {
	getReplicaSet(namespace, name string) (*api.ReplicaSet, error)
	createReplicaSet(rs *api.ReplicaSet) (*api.ReplicaSet, error)
	updateReplicaSet(rs *api.ReplicaSet) (*api.ReplicaSet, error)
	deleteReplicaSet(rs *api.ReplicaSet) error
	updateDeployment(d *api.Deployment) (*api.Deployment, error)
}

type storeObjects struct{ st *store.Store }

func (s storeObjects) getReplicaSet(namespace, name string) (*api.ReplicaSet, error) {
	obj, err := s.st.Get(api.Key{Kind: api.KindReplicaSet, Namespace: namespace, Name: name})
	if err != nil {
		return nil, err
	}
	return obj.(*api.ReplicaSet), nil
}

func (s storeObjects) createReplicaSet(rs *api.ReplicaSet) (*api.ReplicaSet, error) {
	obj, err := s.st.Create(rs)
	if err != nil {
		return nil, err
	}
	return obj.(*api.ReplicaSet), nil
}

func (s storeObjects) updateReplicaSet(rs *api.ReplicaSet) (*api.ReplicaSet, error) {
	obj, err := s.st.Update(rs)
	if err != nil {
		return nil, err
	}
	return obj.(*api.ReplicaSet), nil
}

func (s storeObjects) deleteReplicaSet(rs *api.ReplicaSet) error {
	_, err := s.st.Delete(api.KeyOf(rs), rs.ResourceVersion)
	return err
}

// updateDeployment writes the whole object, not just its status: the
// controller also keeps the revision annotation current, and the
// resourceVersion precondition keeps a user's concurrent change safe.
func (s storeObjects) updateDeployment(d *api.Deployment) (*api.Deployment, error) {
	obj, err := s.st.Update(d)
	if err != nil {
		return nil, err
	}
	return obj.(*api.Deployment), nil
}

// syncer carries one sync of one Deployment. ReplicaSets it changes are
// replaced in place by what the store returned, so every later step of the
// same sync sees their current resourceVersion and size.
//
// It has more methods than the project's ~25 because they are Kubernetes'
// DeploymentController's sync methods, one for one and under their names
// (rolloutRolling, reconcileNewReplicaSet, scaleDownOldReplicaSetsFor...),
// so that this file reads side by side with pkg/controller/deployment; each
// file holds one of its concerns (rolling.go, recreate.go, progress.go).
type syncer struct {
	objs objectStore
	now  func() time.Time
	rec  Recorder
	log  *slog.Logger
	// onScale hears every change of a ReplicaSet's size; Plan records steps
	// with it.
	onScale func(rs *api.ReplicaSet, from, to int32)
}

// clock returns now as conditions store it: UTC, whole seconds.
func (s *syncer) clock() api.Time {
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	return api.Time{Time: now().UTC().Truncate(time.Second)}
}

func (s *syncer) eventf(d *api.Deployment, eventType, reason, format string, args ...any) {
	if s.rec != nil {
		s.rec.Eventf(d, eventType, reason, format, args...)
	}
}

func (s *syncer) updateDeployment(d *api.Deployment) error {
	out, err := s.objs.updateDeployment(d)
	if err != nil {
		return fmt.Errorf("deployment %q: %w", d.Name, err)
	}
	d.ResourceVersion = out.ResourceVersion
	d.Generation = out.Generation
	return nil
}

// updateReplicaSet writes a changed copy of rs and replaces rs by the result.
func (s *syncer) updateReplicaSet(rs *api.ReplicaSet, change func(*api.ReplicaSet)) error {
	cp := rs.DeepCopy().(*api.ReplicaSet)
	change(cp)
	out, err := s.objs.updateReplicaSet(cp)
	if err != nil {
		return fmt.Errorf("replica set %q: %w", rs.Name, err)
	}
	*rs = *out
	return nil
}
