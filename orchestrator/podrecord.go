package orchestrator

import (
	"errors"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// savePodRecord stores p's restart history, so that a restarted daemon
// shows the same RESTARTS for the pods it adopts.
func (n *nodeAgent) savePodRecord(p *pod) {
	rec := &api.PodRecord{
		TypeMeta:   api.TypeMeta{APIVersion: "mini-deploy.io/v1", Kind: api.KindPodRecord},
		ObjectMeta: api.ObjectMeta{Name: p.name, Namespace: p.namespace},
		Status:     api.PodRecordStatus{ContainerID: p.container.ID, RestartCount: p.restarts, LastExit: p.lastExit},
	}
	_, err := n.store.Update(rec)
	if errors.Is(err, store.ErrNotFound) {
		_, err = n.store.Create(rec)
	}
	if err != nil {
		n.log.Warn("save pod record", "pod", p.name, "error", err)
	}
}

// restorePodRecord gives an adopted pod the restart history saved for its
// container.
func (n *nodeAgent) restorePodRecord(p *pod) {
	obj, err := n.store.Get(api.Key{Kind: api.KindPodRecord, Namespace: p.namespace, Name: p.name})
	if err != nil {
		return
	}
	rec := obj.(*api.PodRecord)
	if rec.Status.ContainerID != p.container.ID {
		return
	}
	n.pods.update(p.namespace, p.name, func(cp *pod) {
		cp.restarts, cp.lastExit = rec.Status.RestartCount, rec.Status.LastExit
	})
}

// forgetPodRecord drops the history of a pod that is gone.
func (n *nodeAgent) forgetPodRecord(p *pod) {
	if p.restarts == 0 {
		return // only restarted pods have a record
	}
	key := api.Key{Kind: api.KindPodRecord, Namespace: p.namespace, Name: p.name}
	if _, err := n.store.Delete(key, ""); err != nil && !errors.Is(err, store.ErrNotFound) {
		n.log.Warn("forget pod record", "pod", p.name, "error", err)
	}
}
