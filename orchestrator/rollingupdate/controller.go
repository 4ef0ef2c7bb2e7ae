// Package rollingupdate is the legacy `kubectl rolling-update` of the seed,
// done on the server. kubectl ran it from the client, so an interrupted
// client left two half-scaled controllers; here the steps are a
// RollingUpdate object that the daemon carries to the end, one
// level-triggered step at a time, each step's scaling and its log line
// committed in one transaction.
//
// Where a change goes: the steps (how far to scale, when to wait) are
// Reconcile; what the new ReplicationController looks like is
// NewReplicationController. The controller reads and writes the store only;
// it counts pods and deletes the old controller through what it is given.
package rollingupdate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"strconv"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// defaultUpdatePeriod is the pause between steps. kubectl's was a minute;
// a second keeps the seed's story watchable.
const defaultUpdatePeriod = time.Second

// labelRollingUpdateHash tells the new controller's pods apart, as kubectl's
// `deployment` label did.
const labelRollingUpdateHash = "deployment"

// Controller carries a RollingUpdate object to its end, one step per
// Reconcile; it scales ReplicationControllers through the store and deletes
// the old one through the Deleter, never a pod itself.
type Controller struct {
	store     *store.Store
	countPods func(ownerUID string) int
	deleter   Deleter
}

// Deleter deletes an object with what it owns.
type Deleter interface {
	Delete(ctx context.Context, key api.Key, cascade string) (api.Object, error)
}

// NewController returns the controller. countPods counts the pods an owner
// has, terminating ones included: a step waits until the old ones are gone.
func NewController(st *store.Store, countPods func(ownerUID string) int, deleter Deleter) *Controller {
	return &Controller{store: st, countPods: countPods, deleter: deleter}
}

// Reconcile takes the next step of a rolling update, or waits for the last
// one to take effect.
func (c *Controller) Reconcile(ctx context.Context, key api.Key) (time.Duration, error) {
	obj, err := c.store.Get(key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	ru := obj.(*api.RollingUpdate)
	ns, from, to := key.Namespace, ru.Spec.From, ru.Spec.To
	rcKey := func(name string) api.Key {
		return api.Key{Kind: api.KindReplicationController, Namespace: ns, Name: name}
	}
	switch ru.Status.Phase {
	case api.RollingUpdateSucceeded:
		// The old controller is deleted after the success is recorded; a
		// crash in between is mended here.
		if _, err := c.store.Get(rcKey(from)); err == nil && from != to {
			_, err := c.deleter.Delete(ctx, rcKey(from), "background")
			return 0, err
		}
		return 0, nil
	case api.RollingUpdateFailed:
		return 0, nil
	}
	period := defaultUpdatePeriod
	if ru.Spec.UpdatePeriod != "" {
		if d, err := time.ParseDuration(ru.Spec.UpdatePeriod); err == nil {
			period = d
		}
	}
	fail := func(msg string) (time.Duration, error) {
		ru.Status.Phase = api.RollingUpdateFailed
		ru.Status.Lines = append(ru.Status.Lines, "error: "+msg)
		ru.ResourceVersion = ""
		_, err := c.store.UpdateStatus(ru)
		return 0, err
	}

	oldObj, oldErr := c.store.Get(rcKey(from))
	newObj, newErr := c.store.Get(rcKey(to))
	if oldErr != nil && !errors.Is(oldErr, store.ErrNotFound) {
		return 0, oldErr
	}
	if newErr != nil && !errors.Is(newErr, store.ErrNotFound) {
		return 0, newErr
	}
	if oldErr != nil {
		return fail(fmt.Sprintf("replicationcontroller %q not found", from))
	}
	old := oldObj.(*api.ReplicationController)
	if newErr != nil {
		nw, err := NewReplicationController(old, ru.Spec)
		if err != nil {
			return fail(err.Error())
		}
		ru.Status.Desired = api.Replicas(old.Spec.Replicas)
		ru.Status.Lines = append(ru.Status.Lines,
			"Created "+to,
			fmt.Sprintf("Scaling up %s from 0 to %d, scaling down %s from %d to 0 (keep %d pods available, don't exceed %d pods)",
				to, ru.Status.Desired, from, api.Replicas(old.Spec.Replicas), ru.Status.Desired, ru.Status.Desired+1))
		ru.Status.LastStep = api.Now()
		err = c.store.Txn(func(tx *store.Tx) error {
			if _, err := tx.Create(nw); err != nil {
				return err
			}
			ru.ResourceVersion = ""
			_, err := tx.UpdateStatus(ru)
			return err
		})
		return 100 * time.Millisecond, err
	}
	nw := newObj.(*api.ReplicationController)
	desired := ru.Status.Desired
	oldN, newN := api.Replicas(old.Spec.Replicas), api.Replicas(nw.Spec.Replicas)

	// A step waits until the previous one took effect: the new pods are
	// available and the old ones are gone, not just asked to go.
	if nw.Status.ObservedGeneration < nw.Generation || nw.Status.AvailableReplicas < newN ||
		c.countPods(old.UID) > int(oldN) {
		return 100 * time.Millisecond, nil
	}
	if wait := period - time.Since(ru.Status.LastStep.Time); wait > 0 {
		return wait, nil
	}
	var scale *api.ReplicationController
	switch {
	case oldN+newN > desired && oldN > 0:
		scale = old
		oldN--
		scale.Spec.Replicas = &oldN
		ru.Status.Lines = append(ru.Status.Lines, fmt.Sprintf("Scaling %s down to %d", from, oldN))
	case newN < desired:
		scale = nw
		newN++
		scale.Spec.Replicas = &newN
		ru.Status.Lines = append(ru.Status.Lines, fmt.Sprintf("Scaling %s up to %d", to, newN))
	default:
		ru.Status.Phase = api.RollingUpdateSucceeded
		ru.Status.Lines = append(ru.Status.Lines,
			"Update succeeded. Deleting "+from,
			fmt.Sprintf("replicationcontroller/%s rolling updated to %q", to, to))
		ru.ResourceVersion = ""
		if _, err := c.store.UpdateStatus(ru); err != nil {
			return 0, err
		}
		_, err := c.deleter.Delete(ctx, rcKey(from), "background")
		return 0, err
	}
	ru.Status.LastStep = api.Now()
	err = c.store.Txn(func(tx *store.Tx) error {
		scale.ResourceVersion = ""
		if _, err := tx.Update(scale); err != nil {
			return err
		}
		ru.ResourceVersion = ""
		_, err := tx.UpdateStatus(ru)
		return err
	})
	return 100 * time.Millisecond, err
}

// NewReplicationController builds the new ReplicationController of a
// rolling update:
// the old one's template with the new image, zero replicas, and a
// `deployment` label so its selector matches its own pods only.
func NewReplicationController(old *api.ReplicationController, spec api.RollingUpdateSpec) (*api.ReplicationController, error) {
	nw := old.DeepCopy().(*api.ReplicationController)
	nw.ObjectMeta = api.ObjectMeta{Name: spec.To, Namespace: old.Namespace, Labels: maps.Clone(old.Labels), Annotations: maps.Clone(old.Annotations)}
	nw.Status = api.ReplicationControllerStatus{}
	if nw.Spec.Template == nil || len(nw.Spec.Template.Spec.Containers) == 0 {
		return nil, fmt.Errorf("replicationcontroller %q has no pod template", old.Name)
	}
	if spec.Image != "" {
		found := false
		for i := range nw.Spec.Template.Spec.Containers {
			c := &nw.Spec.Template.Spec.Containers[i]
			if spec.Container == "" || c.Name == spec.Container {
				c.Image, found = spec.Image, true
			}
		}
		if !found {
			return nil, fmt.Errorf("unable to find container named %q in replicationcontroller %q", spec.Container, old.Name)
		}
	}
	h := fnv.New32a()
	b, _ := json.Marshal(nw.Spec.Template.Spec)
	_, _ = h.Write(b)
	hash := strconv.FormatUint(uint64(h.Sum32()), 16)
	if nw.Spec.Template.Labels == nil {
		nw.Spec.Template.Labels = map[string]string{}
	}
	nw.Spec.Template.Labels[labelRollingUpdateHash] = hash
	sel := maps.Clone(old.Spec.Selector)
	if len(sel) == 0 {
		sel = maps.Clone(old.Spec.Template.Labels)
	}
	sel[labelRollingUpdateHash] = hash
	nw.Spec.Selector = sel
	zero := int32(0)
	nw.Spec.Replicas = &zero
	return nw, nil
}
