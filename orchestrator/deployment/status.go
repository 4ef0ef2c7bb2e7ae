package deployment

import (
	"encoding/json"
	"fmt"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// syncDeploymentStatus writes d's status when the ReplicaSets say something
// new.
func (s *syncer) syncDeploymentStatus(all []*api.ReplicaSet, newRS *api.ReplicaSet, d *api.Deployment) error {
	status := s.calculateStatus(all, newRS, d)
	if statusEqual(&d.Status, &status) {
		return nil
	}
	d.Status = status
	return s.updateDeployment(d)
}

// calculateStatus sums the ReplicaSets into a Deployment status and sets
// the Available condition. replicas counts pods that exist (status), while
// unavailableReplicas is measured against the sizes asked for (spec), so it
// includes pods not yet created.
func (s *syncer) calculateStatus(all []*api.ReplicaSet, newRS *api.ReplicaSet, d *api.Deployment) api.DeploymentStatus {
	available := sumAvailable(all)
	status := api.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            sumStatus(all),
		UpdatedReplicas:     sumStatus([]*api.ReplicaSet{newRS}),
		ReadyReplicas:       sumReady(all),
		AvailableReplicas:   available,
		UnavailableReplicas: max(sumSpec(all)-available, 0),
		CollisionCount:      d.Status.CollisionCount,
		Conditions:          append([]api.Condition(nil), d.Status.Conditions...),
	}
	if available >= replicasOf(d)-maxUnavailable(d) {
		setCondition(&status, newCondition(s.clock(), api.DeploymentAvailable, condTrue, api.ReasonMinimumReplicasAvailable, "Deployment has minimum availability."))
	} else {
		setCondition(&status, newCondition(s.clock(), api.DeploymentAvailable, condFalse, api.ReasonMinimumReplicasUnavail, "Deployment does not have minimum availability."))
	}
	return status
}

// statusEqual compares statuses as the store would keep them.
func statusEqual(a, b *api.DeploymentStatus) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// RolloutStatus reads a Deployment's status as `kubectl rollout status`
// does: a line to print, whether the rollout is done, and an error once the
// progress deadline has passed. Messages carry no trailing newline.
func RolloutStatus(d *api.Deployment) (message string, done bool, err error) {
	if d.Generation > d.Status.ObservedGeneration {
		return "Waiting for deployment spec update to be observed...", false, nil
	}
	if c := getCondition(&d.Status, api.DeploymentProgressing); c != nil && c.Reason == api.ReasonProgressDeadlineExceeded {
		return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", d.Name)
	}
	st := &d.Status
	if d.Spec.Replicas != nil && st.UpdatedReplicas < *d.Spec.Replicas {
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...", d.Name, st.UpdatedReplicas, *d.Spec.Replicas), false, nil
	}
	if st.Replicas > st.UpdatedReplicas {
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...", d.Name, st.Replicas-st.UpdatedReplicas), false, nil
	}
	if st.AvailableReplicas < st.UpdatedReplicas {
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...", d.Name, st.AvailableReplicas, st.UpdatedReplicas), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out", d.Name), true, nil
}
