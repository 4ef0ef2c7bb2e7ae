package node

import (
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// podView renders a pod as the Kubernetes-shaped Pod that `get pods` shows.
func (n *Agent) podView(p *pod) *api.Pod {
	v := &api.Pod{
		TypeMeta: api.TypeMeta{APIVersion: "v1", Kind: api.KindPod},
		ObjectMeta: api.ObjectMeta{
			Name:              p.name,
			Namespace:         p.namespace,
			Labels:            p.labels,
			UID:               p.container.ID,
			CreationTimestamp: api.Time{Time: p.created.UTC().Truncate(time.Second)},
		},
		Spec: p.spec,
	}
	if p.ownerKind != "" {
		yes := true
		apiVersion := "apps/v1"
		if p.ownerKind == api.KindReplicationController {
			apiVersion = "v1"
		}
		v.OwnerReferences = []api.OwnerReference{{APIVersion: apiVersion, Kind: p.ownerKind, Name: p.ownerName, UID: p.ownerUID, Controller: &yes}}
	}
	if p.terminating {
		t := api.Now()
		v.DeletionTimestamp = &t
	}
	name, image := "", p.container.Image
	if len(p.spec.Containers) > 0 {
		name, image = p.spec.Containers[0].Name, p.spec.Containers[0].Image
	}
	cs := api.ContainerStatus{Name: name, Image: image, Ready: p.ready && p.running(), RestartCount: p.restarts}
	if p.container.ID != "" {
		cs.ContainerID = "docker://" + p.container.ID
	}
	if p.lastExit != nil {
		cs.LastState.Terminated = p.lastExit
	}
	status := api.PodStatus{PodIP: p.ip(n.addrs.network), ContainerStatuses: []api.ContainerStatus{cs}}
	switch {
	case p.waiting != "":
		status.Phase = "Pending"
		if p.container.ID != "" {
			status.Phase = "Running"
		}
		status.ContainerStatuses[0].State.Waiting = &api.ContainerStateWaiting{Reason: p.waiting, Message: p.waitingMsg}
	case p.container.State == rt.StatePaused:
		status.Phase = "Running"
		status.ContainerStatuses[0].State.Waiting = &api.ContainerStateWaiting{Reason: "Paused",
			Message: "the container is paused (docker pause); docker unpause resumes it"}
	case p.running():
		status.Phase = "Running"
		started := api.Time{Time: p.container.StartedAt.UTC().Truncate(time.Second)}
		status.StartTime = &started
		status.ContainerStatuses[0].State.Running = &api.ContainerStateRunning{StartedAt: started}
		s := true
		status.ContainerStatuses[0].Started = &s
	case p.container.ID != "":
		status.Phase = "Running"
		status.ContainerStatuses[0].State.Terminated = terminatedState(p.container)
	default:
		status.Phase = "Pending"
		status.ContainerStatuses[0].State.Waiting = &api.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	ready := "False"
	if cs.Ready {
		ready = "True"
	}
	status.Conditions = []api.Condition{{Type: "Ready", Status: ready}}
	v.Status = status
	return v
}

func terminatedState(c rt.Container) *api.ContainerStateTerminated {
	reason := "Completed"
	switch {
	case c.OOMKilled:
		reason = "OOMKilled"
	case c.ExitCode != 0:
		reason = "Error"
	}
	return &api.ContainerStateTerminated{
		ExitCode:   int32(c.ExitCode),
		Reason:     reason,
		StartedAt:  api.Time{Time: c.StartedAt.UTC().Truncate(time.Second)},
		FinishedAt: api.Time{Time: c.FinishedAt.UTC().Truncate(time.Second)},
	}
}
