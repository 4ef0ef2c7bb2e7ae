package deployment

import (
	"fmt"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// A rolling update moves in small steps, each bounded on both sides: the
// total size of all ReplicaSets never exceeds replicas + maxSurge, and old
// pods are removed only while at least replicas - maxUnavailable pods stay
// available. Each pass takes one step, scaling up if it can and scaling down
// otherwise, then waits for the ReplicaSet controller to report back.

func (s *syncer) rolloutRolling(d *api.Deployment, rsList []*api.ReplicaSet) (time.Duration, error) {
	newRS, oldRSs, err := s.getAllReplicaSetsAndSyncRevision(d, rsList, true)
	if err != nil {
		return 0, err
	}
	all := withNew(oldRSs, newRS)

	scaledUp, err := s.reconcileNewReplicaSet(all, newRS, d)
	if err != nil {
		return 0, err
	}
	if scaledUp {
		return s.syncRolloutStatus(all, newRS, d)
	}
	scaledDown, err := s.reconcileOldReplicaSets(all, active(oldRSs), newRS, d)
	if err != nil {
		return 0, err
	}
	if scaledDown {
		return s.syncRolloutStatus(all, newRS, d)
	}
	if deploymentComplete(d, &d.Status) {
		if err := s.cleanupDeployment(oldRSs, d); err != nil {
			return 0, err
		}
	}
	return s.syncRolloutStatus(all, newRS, d)
}

// reconcileNewReplicaSet grows the new ReplicaSet as far as maxSurge lets
// it, or shrinks it if it is above replicas.
func (s *syncer) reconcileNewReplicaSet(all []*api.ReplicaSet, newRS *api.ReplicaSet, d *api.Deployment) (bool, error) {
	want := replicasOf(d)
	if rsReplicas(newRS) == want {
		return false, nil
	}
	if rsReplicas(newRS) > want {
		return s.scaleReplicaSetAndRecordEvent(newRS, want, d)
	}
	size, err := newRSNewReplicas(d, all, newRS)
	if err != nil {
		return false, err
	}
	return s.scaleReplicaSetAndRecordEvent(newRS, size, d)
}

// newRSNewReplicas is the size the new ReplicaSet may have now.
func newRSNewReplicas(d *api.Deployment, all []*api.ReplicaSet, newRS *api.ReplicaSet) (int32, error) {
	switch d.Spec.Strategy.Type {
	case "", api.RollingUpdateDeploymentStrategyType:
		surgeValue, _ := rollingParams(d)
		surge, err := api.ScaledValue(surgeValue, replicasOf(d), true)
		if err != nil {
			return 0, fmt.Errorf("deployment %q: maxSurge: %w", d.Name, err)
		}
		current := sumPods(all)
		ceiling := replicasOf(d) + surge
		if current >= ceiling {
			return rsReplicas(newRS), nil
		}
		up := min(ceiling-current, replicasOf(d)-rsReplicas(newRS))
		return rsReplicas(newRS) + up, nil
	case api.RecreateDeploymentStrategyType:
		return replicasOf(d), nil
	}
	return 0, fmt.Errorf("deployment %q: unexpected strategy type %q", d.Name, d.Spec.Strategy.Type)
}

// reconcileOldReplicaSets shrinks the old ReplicaSets as far as availability
// allows: first their pods that are not available anyway, then available
// ones down to replicas - maxUnavailable.
func (s *syncer) reconcileOldReplicaSets(all, oldRSs []*api.ReplicaSet, newRS *api.ReplicaSet, d *api.Deployment) (bool, error) {
	if sumSpec(oldRSs) == 0 {
		return false, nil
	}
	minAvailable := replicasOf(d) - maxUnavailable(d)
	newUnavailable := rsReplicas(newRS) - newRS.Status.AvailableReplicas
	// Pods the new ReplicaSet still has to make available count against
	// the budget: removing an old pod now could leave fewer than
	// minAvailable once they are counted.
	maxScaledDown := sumSpec(all) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false, nil
	}
	cleaned, err := s.cleanupUnhealthyReplicas(oldRSs, d, maxScaledDown)
	if err != nil {
		return false, err
	}
	scaled, err := s.scaleDownOldReplicaSetsForRollingUpdate(withNew(oldRSs, newRS), oldRSs, d)
	if err != nil {
		return false, err
	}
	return cleaned+scaled > 0, nil
}

// cleanupUnhealthyReplicas removes old pods that are not available, oldest
// ReplicaSet first. They serve nothing, and left alone they would hold the
// rollout (Kubernetes #16737). The ReplicaSet controller removes unready pods
// before ready ones, so this costs no availability.
func (s *syncer) cleanupUnhealthyReplicas(oldRSs []*api.ReplicaSet, d *api.Deployment, maxCleanup int32) (int32, error) {
	sortOldestFirst(oldRSs)
	var total int32
	for _, rs := range oldRSs {
		if total >= maxCleanup {
			break
		}
		size := rsReplicas(rs)
		if size == 0 || size == rs.Status.AvailableReplicas {
			continue
		}
		n := min(maxCleanup-total, size-rs.Status.AvailableReplicas)
		if n < 0 {
			// More available than wanted: the status is behind a scale
			// down, so there is nothing unhealthy to remove.
			continue
		}
		if _, err := s.scaleReplicaSetAndRecordEvent(rs, size-n, d); err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// scaleDownOldReplicaSetsForRollingUpdate removes available old pods, oldest
// ReplicaSet first, while more than replicas - maxUnavailable stay available.
func (s *syncer) scaleDownOldReplicaSetsForRollingUpdate(all, oldRSs []*api.ReplicaSet, d *api.Deployment) (int32, error) {
	minAvailable := replicasOf(d) - maxUnavailable(d)
	available := sumAvailable(all)
	if available <= minAvailable {
		return 0, nil
	}
	sortOldestFirst(oldRSs)
	budget := available - minAvailable
	var total int32
	for _, rs := range oldRSs {
		if total >= budget {
			break
		}
		size := rsReplicas(rs)
		if size == 0 {
			continue
		}
		n := min(size, budget-total)
		if _, err := s.scaleReplicaSetAndRecordEvent(rs, size-n, d); err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
