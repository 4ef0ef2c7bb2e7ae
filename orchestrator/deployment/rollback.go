package deployment

import (
	"errors"
	"fmt"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// A rollback, as kubectl does it since Kubernetes dropped spec.rollbackTo,
// is an ordinary spec update: the Deployment gets an old ReplicaSet's
// template back, the controller finds that ReplicaSet as the new one and
// renumbers it, and the rollout that follows is like any other.

// ErrRollbackSkipped is wrapped by Rollback when the Deployment already runs
// the requested revision; kubectl reports that and exits 0.
var ErrRollbackSkipped = errors.New("skipped rollback")

type skippedError struct{ revision int64 }

func (e *skippedError) Error() string {
	return fmt.Sprintf("skipped rollback (current template already matches revision %d)", e.revision)
}

func (e *skippedError) Unwrap() error { return ErrRollbackSkipped }

// rollbackRetries bounds Rollback's retries when the Deployment changes
// under it.
const rollbackRetries = 5

// ReasonRolledBack is the reason of the event an automatic rollback records.
const ReasonRolledBack = "RolledBack"

// Rollback is `rollout undo`: it puts the template of revision toRevision
// (0: the one before the current) back into the Deployment's spec and
// returns the updated Deployment.
func Rollback(st *store.Store, namespace, name string, toRevision int64) (*api.Deployment, error) {
	if toRevision < 0 {
		return nil, fmt.Errorf("unable to find specified revision %d in history", toRevision)
	}
	for attempt := 0; ; attempt++ {
		d, rss, err := getWithReplicaSets(st, namespace, name)
		if err != nil {
			return nil, err
		}
		if d.Spec.Paused {
			return nil, fmt.Errorf("you cannot rollback a paused deployment; resume it first with 'mini-deploy rollout resume deployment/%s' and try again", d.Name)
		}
		target, err := revisionToRollBack(d, rss, toRevision)
		if err != nil {
			return nil, err
		}
		if equalIgnoreHash(&target.Spec.Template, &d.Spec.Template) {
			return nil, &skippedError{revisionOf(target)}
		}
		restoreRevision(d, target)
		out, err := st.Update(d)
		if errors.Is(err, store.ErrConflict) && attempt < rollbackRetries {
			continue
		}
		if err != nil {
			return nil, err
		}
		return out.(*api.Deployment), nil
	}
}

// revisionToRollBack finds the ReplicaSet of revision toRevision, or with 0
// the second newest revision.
func revisionToRollBack(d *api.Deployment, rss []*api.ReplicaSet, toRevision int64) (*api.ReplicaSet, error) {
	var latest, previous *api.ReplicaSet
	latestRev, previousRev := int64(-1), int64(-1)
	for _, rs := range rss {
		v, err := revision(rs)
		if err != nil {
			continue
		}
		if toRevision > 0 {
			if v == toRevision {
				return rs, nil
			}
			continue
		}
		switch {
		case v > latestRev:
			previous, previousRev = latest, latestRev
			latest, latestRev = rs, v
		case v > previousRev:
			previous, previousRev = rs, v
		}
	}
	if toRevision > 0 {
		return nil, fmt.Errorf("unable to find specified revision %d in history", toRevision)
	}
	if previous == nil {
		return nil, fmt.Errorf("no rollout history found for deployment %q", d.Name)
	}
	return previous, nil
}

// keepOnRollback are annotations that describe how the Deployment behaves,
// not what a revision ran, so a rollback keeps the Deployment's own.
var keepOnRollback = map[string]bool{api.AnnotationAutoRollback: true}

// restoreRevision copies rs's template (without its pod-template-hash) into
// d, and its annotations, the change-cause among them, onto d, as kubectl
// does.
func restoreRevision(d *api.Deployment, rs *api.ReplicaSet) {
	t := *api.Copy(&rs.Spec.Template)
	t.Labels = withoutLabel(t.Labels, api.LabelPodTemplateHash)
	d.Spec.Template = t
	ann := map[string]string{}
	for k, v := range d.Annotations {
		if skipAnnotations[k] || keepOnRollback[k] {
			ann[k] = v
		}
	}
	for k, v := range rs.Annotations {
		if !skipAnnotations[k] && !keepOnRollback[k] {
			ann[k] = v
		}
	}
	d.Annotations = ann
}

// autoRollback takes a Deployment annotated for it back to its newest
// complete revision once its rollout has missed the progress deadline.
//
// It cannot loop: it only leaves a new ReplicaSet that never completed, and
// only for one that did, so the revision it returns to can never trigger it
// again. Another rollback needs another failed change from the user. It
// reports whether it changed the spec.
func (s *syncer) autoRollback(d *api.Deployment, all []*api.ReplicaSet, newRS *api.ReplicaSet, justTimedOut bool) (bool, error) {
	if d.Annotations[api.AnnotationAutoRollback] != "true" || newRS == nil {
		return false, nil
	}
	c := getCondition(&d.Status, api.DeploymentProgressing)
	if c == nil || c.Reason != api.ReasonProgressDeadlineExceeded || newRS.Annotations[AnnotationComplete] == "true" {
		return false, nil
	}
	var target *api.ReplicaSet
	for _, rs := range all {
		if rs == nil || rs.UID == newRS.UID || rs.Annotations[AnnotationComplete] != "true" {
			continue
		}
		if equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			continue
		}
		if target == nil || revisionOf(rs) > revisionOf(target) {
			target = rs
		}
	}
	failed := fmt.Sprintf("progress deadline exceeded for revision %d (ReplicaSet %q)", revisionOf(newRS), newRS.Name)
	if target == nil {
		if justTimedOut {
			s.eventf(d, api.EventTypeWarning, "RollbackSkipped", "%s; no complete revision to roll back to", failed)
		}
		return false, nil
	}
	to := revisionOf(target)
	restoreRevision(d, target)
	if err := s.updateDeployment(d); err != nil {
		return false, err
	}
	s.eventf(d, api.EventTypeWarning, ReasonRolledBack, "%s; rolled back to revision %d", failed, to)
	s.log.Warn("rolled back", "revision", to, "replicaset", target.Name, "reason", failed)
	return true, nil
}
