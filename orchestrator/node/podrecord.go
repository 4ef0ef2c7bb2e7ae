package node

import (
	"errors"
	"log/slog"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// podRecords keep, in the store, what a container cannot carry on its labels
// because labels are fixed at creation: how often the control plane
// restarted it.
type podRecords struct {
	store *store.Store
	pods  *podCache
	log   *slog.Logger
}

// save stores p's restart history, so that a restarted daemon
// shows the same RESTARTS for the pods it adopts.
func (r podRecords) save(p *pod) {
	rec := &api.PodRecord{
		TypeMeta:   api.TypeMeta{APIVersion: "mini-deploy.io/v1", Kind: api.KindPodRecord},
		ObjectMeta: api.ObjectMeta{Name: p.name, Namespace: p.namespace},
		Status:     api.PodRecordStatus{ContainerID: p.container.ID, RestartCount: p.restarts, LastExit: p.lastExit},
	}
	_, err := r.store.Update(rec)
	if errors.Is(err, store.ErrNotFound) {
		_, err = r.store.Create(rec)
	}
	if err != nil {
		r.log.Warn("save pod record", "pod", p.name, "error", err)
	}
}

// restore gives an adopted pod the restart history saved for its
// container.
func (r podRecords) restore(p *pod) {
	obj, err := r.store.Get(api.Key{Kind: api.KindPodRecord, Namespace: p.namespace, Name: p.name})
	if err != nil {
		return
	}
	rec := obj.(*api.PodRecord)
	if rec.Status.ContainerID != p.container.ID {
		return
	}
	r.pods.update(p.namespace, p.name, func(cp *pod) {
		cp.restarts, cp.lastExit = rec.Status.RestartCount, rec.Status.LastExit
	})
}

// forget drops the history of a pod that is gone.
func (r podRecords) forget(p *pod) {
	if p.restarts == 0 {
		return // only restarted pods have a record
	}
	key := api.Key{Kind: api.KindPodRecord, Namespace: p.namespace, Name: p.name}
	if _, err := r.store.Delete(key, ""); err != nil && !errors.Is(err, store.ErrNotFound) {
		r.log.Warn("forget pod record", "pod", p.name, "error", err)
	}
}
