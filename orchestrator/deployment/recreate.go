package deployment

import (
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Recreate never runs two versions at once: it scales every old ReplicaSet
// to zero, waits until their pods are gone, and only then creates (or
// scales up) the new one, at full size.
func (s *syncer) rolloutRecreate(d *api.Deployment, rsList []*api.ReplicaSet) (time.Duration, error) {
	// Not created yet: creating it now would start new pods beside old ones.
	newRS, oldRSs, err := s.getAllReplicaSetsAndSyncRevision(d, rsList, false)
	if err != nil {
		return 0, err
	}
	all := withNew(oldRSs, newRS)

	scaledDown, err := s.scaleDownOldReplicaSetsForRecreate(active(oldRSs), d)
	if err != nil {
		return 0, err
	}
	if scaledDown || oldPodsRunning(oldRSs) {
		return s.syncRolloutStatus(all, newRS, d)
	}
	if newRS == nil {
		if newRS, oldRSs, err = s.getAllReplicaSetsAndSyncRevision(d, rsList, true); err != nil {
			return 0, err
		}
		all = withNew(oldRSs, newRS)
	}
	if _, err := s.scaleReplicaSetAndRecordEvent(newRS, replicasOf(d), d); err != nil {
		return 0, err
	}
	if deploymentComplete(d, &d.Status) {
		if err := s.cleanupDeployment(oldRSs, d); err != nil {
			return 0, err
		}
	}
	return s.syncRolloutStatus(all, newRS, d)
}

func (s *syncer) scaleDownOldReplicaSetsForRecreate(oldRSs []*api.ReplicaSet, d *api.Deployment) (bool, error) {
	scaled := false
	for _, rs := range oldRSs {
		if rsReplicas(rs) == 0 {
			continue
		}
		ok, err := s.scaleReplicaSetAndRecordEvent(rs, 0, d)
		if err != nil {
			return false, err
		}
		scaled = scaled || ok
	}
	return scaled, nil
}

// oldPodsRunning trusts the ReplicaSets' status: a pod counts until its
// ReplicaSet controller has seen it gone, which on this machine is after the
// termination protocol has drained and stopped it.
func oldPodsRunning(oldRSs []*api.ReplicaSet) bool {
	return sumStatus(oldRSs) > 0
}
