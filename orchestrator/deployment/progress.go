package deployment

import (
	"fmt"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Progress is judged, as in Kubernetes, by the Progressing condition: every
// pass that sees the rollout move (more updated, ready or available pods,
// fewer old ones) refreshes its lastUpdateTime, and a rollout that has not
// moved for progressDeadlineSeconds since then is marked
// ProgressDeadlineExceeded. Nothing else happens to it in Kubernetes; here
// the auto-rollback annotation may take it back to a revision that worked.

// syncRolloutStatus writes status and the Progressing condition after a
// rollout step, and returns when to look again if the rollout could time out
// before anything else wakes the controller.
func (s *syncer) syncRolloutStatus(all []*api.ReplicaSet, newRS *api.ReplicaSet, d *api.Deployment) (time.Duration, error) {
	status := s.calculateStatus(all, newRS, d)
	if !hasProgressDeadline(d) {
		removeCondition(&status, api.DeploymentProgressing)
	}

	// A finished rollout stays finished until something new happens; a
	// resync must not turn it back into "progressing".
	cur := getCondition(&d.Status, api.DeploymentProgressing)
	complete := status.Replicas == status.UpdatedReplicas && cur != nil && cur.Reason == api.ReasonNewRSAvailable
	if hasProgressDeadline(d) && !complete {
		switch {
		case deploymentComplete(d, &status):
			msg := fmt.Sprintf("Deployment %q has successfully progressed.", d.Name)
			if newRS != nil {
				msg = fmt.Sprintf("ReplicaSet %q has successfully progressed.", newRS.Name)
			}
			setCondition(&status, newCondition(s.clock(), api.DeploymentProgressing, condTrue, api.ReasonNewRSAvailable, msg))
		case deploymentProgressing(d, &status):
			msg := fmt.Sprintf("Deployment %q is progressing.", d.Name)
			if newRS != nil {
				msg = fmt.Sprintf("ReplicaSet %q is progressing.", newRS.Name)
			}
			// Unlike other conditions, this one is rewritten with the same
			// reason: its lastUpdateTime is the progress clock.
			c := newCondition(s.clock(), api.DeploymentProgressing, condTrue, api.ReasonRSUpdated, msg)
			if cur != nil {
				if cur.Status == condTrue {
					c.LastTransitionTime = cur.LastTransitionTime
				}
				removeCondition(&status, api.DeploymentProgressing)
			}
			setCondition(&status, c)
		case s.deploymentTimedOut(d, &status):
			msg := fmt.Sprintf("Deployment %q has timed out progressing.", d.Name)
			if newRS != nil {
				msg = fmt.Sprintf("ReplicaSet %q has timed out progressing.", newRS.Name)
			}
			setCondition(&status, newCondition(s.clock(), api.DeploymentProgressing, condFalse, api.ReasonProgressDeadlineExceeded, msg))
		}
	}

	if failures := replicaFailures(all, newRS); len(failures) > 0 {
		setCondition(&status, failures[0])
	} else {
		removeCondition(&status, condReplicaFailure)
	}

	justTimedOut := (cur == nil || cur.Reason != api.ReasonProgressDeadlineExceeded) &&
		isTimedOut(&status)
	if !statusEqual(&d.Status, &status) {
		d.Status = status
		if err := s.updateDeployment(d); err != nil {
			return 0, err
		}
	}
	if err := s.markComplete(d, newRS); err != nil {
		return 0, err
	}
	rolledBack, err := s.autoRollback(d, all, newRS, justTimedOut)
	if err != nil || rolledBack {
		return 0, err
	}
	return s.requeueStuck(d), nil
}

func isTimedOut(st *api.DeploymentStatus) bool {
	c := getCondition(st, api.DeploymentProgressing)
	return c != nil && c.Reason == api.ReasonProgressDeadlineExceeded
}

// deploymentComplete: every replica runs the new template and is available,
// and the status describes the current spec.
func deploymentComplete(d *api.Deployment, st *api.DeploymentStatus) bool {
	n := replicasOf(d)
	return st.UpdatedReplicas == n && st.Replicas == n && st.AvailableReplicas == n && st.ObservedGeneration >= d.Generation
}

// deploymentProgressing compares the new status with the one stored: any
// step forward counts.
func deploymentProgressing(d *api.Deployment, st *api.DeploymentStatus) bool {
	old := &d.Status
	return st.UpdatedReplicas > old.UpdatedReplicas ||
		st.Replicas-st.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		st.ReadyReplicas > old.ReadyReplicas ||
		st.AvailableReplicas > old.AvailableReplicas
}

func (s *syncer) deploymentTimedOut(d *api.Deployment, st *api.DeploymentStatus) bool {
	deadline, ok := progressDeadline(d)
	if !ok {
		return false
	}
	c := getCondition(st, api.DeploymentProgressing)
	if c == nil || c.Reason == api.ReasonNewRSAvailable {
		return false
	}
	if c.Reason == api.ReasonProgressDeadlineExceeded {
		return true
	}
	return c.LastUpdateTime.Add(time.Duration(deadline) * time.Second).Before(s.clock().Time)
}

// requeueStuck returns when the progress deadline of an unfinished rollout
// passes, a second late so that the deadline is surely behind us then.
// Without it a stuck rollout would only time out at the next resync.
func (s *syncer) requeueStuck(d *api.Deployment) time.Duration {
	deadline, ok := progressDeadline(d)
	c := getCondition(&d.Status, api.DeploymentProgressing)
	if !ok || c == nil || deploymentComplete(d, &d.Status) || c.Reason == api.ReasonProgressDeadlineExceeded {
		return 0
	}
	after := c.LastUpdateTime.Add(time.Duration(deadline) * time.Second).Sub(s.clock().Time)
	return max(after, 0) + time.Second
}

// replicaFailures lifts ReplicaFailure conditions from the ReplicaSets, the
// new one's first.
func replicaFailures(all []*api.ReplicaSet, newRS *api.ReplicaSet) []api.Condition {
	collect := func(rs *api.ReplicaSet) []api.Condition {
		var out []api.Condition
		for _, c := range rs.Status.Conditions {
			if c.Type == condReplicaFailure {
				out = append(out, api.Condition{Type: c.Type, Status: c.Status, LastUpdateTime: c.LastTransitionTime, LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message})
			}
		}
		return out
	}
	if newRS != nil {
		if out := collect(newRS); len(out) > 0 {
			return out
		}
	}
	var out []api.Condition
	for _, rs := range all {
		if rs != nil {
			out = append(out, collect(rs)...)
		}
	}
	return out
}

// markComplete records on the new ReplicaSet that its rollout finished, the
// fact auto-rollback needs later, when this ReplicaSet is an old one.
func (s *syncer) markComplete(d *api.Deployment, newRS *api.ReplicaSet) error {
	if newRS == nil || newRS.Annotations[AnnotationComplete] == "true" || !deploymentComplete(d, &d.Status) {
		return nil
	}
	return s.updateReplicaSet(newRS, func(rs *api.ReplicaSet) {
		if rs.Annotations == nil {
			rs.Annotations = map[string]string{}
		}
		rs.Annotations[AnnotationComplete] = "true"
	})
}
