package dataplane

import (
	"sync"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// ServiceIndex holds the stored Services as the store's watch last reported
// them, so that the paths that run for every pod event and every probe (the
// node agent's and the data plane's) read Services from memory, not from the
// store. It is what an informer's lister is to a Kubernetes controller.
type ServiceIndex struct {
	mu sync.RWMutex
	m  map[api.Key]*api.Service
}

// Put records a stored Service's latest state, or its deletion.
func (x *ServiceIndex) Put(obj api.Object, deleted bool) {
	svc, ok := obj.(*api.Service)
	if !ok {
		return
	}
	key := api.KeyOf(svc)
	x.mu.Lock()
	defer x.mu.Unlock()
	if cur := x.m[key]; cur != nil && store.Revision(cur) > store.Revision(svc) {
		return // an older change delivered after the first list
	}
	if deleted {
		delete(x.m, key)
		return
	}
	x.m[key] = svc
}

// In returns the Services of a namespace ("" for all), read-only.
func (x *ServiceIndex) In(namespace string) []*api.Service {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]*api.Service, 0, len(x.m))
	for k, svc := range x.m {
		if namespace == "" || k.Namespace == namespace {
			out = append(out, svc)
		}
	}
	return out
}

// Remove forgets a Service the store no longer has.
func (x *ServiceIndex) Remove(key api.Key) {
	x.mu.Lock()
	delete(x.m, key)
	x.mu.Unlock()
}

// NewServiceIndex returns an empty index.
func NewServiceIndex() *ServiceIndex { return &ServiceIndex{m: map[api.Key]*api.Service{}} }
