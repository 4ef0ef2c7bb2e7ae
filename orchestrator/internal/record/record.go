// Package record stores Events as kubectl shows them, for every part of the
// control plane: the controllers, the node agent and the data plane record
// through it. To change how events are kept, merged or expired, change this
// package.
package record

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// maxEvents bounds the stored events; Kubernetes expires them after an hour,
// here the oldest go first.
const maxEvents = 1000

// Recorder stores Events like kubectl shows them. A repeat of the same reason
// and message about the same object bumps count and lastTimestamp instead of
// adding a row.
//
// Events are written by a goroutine of their own while the control plane
// runs: each is a store commit with an fsync, and the paths that record them
// (creating a pod, a rollout step) should not wait for the disk.
type Recorder struct {
	store *store.Store
	log   *slog.Logger
	mu    sync.Mutex
	seen  map[string]string // dedupe key -> event name

	qmu    sync.RWMutex // guards queue against stop
	queue  chan pendingEvent
	done   chan struct{}
	closed bool
}

// New returns a Recorder that writes events to st at once until Start.
func New(st *store.Store, log *slog.Logger) *Recorder { return &Recorder{store: st, log: log} }

type pendingEvent struct {
	ref                    api.ObjectReference
	eventType, reason, msg string
}

// Start writes events in the background until Stop.
func (r *Recorder) Start() {
	r.qmu.Lock()
	defer r.qmu.Unlock()
	r.queue, r.done, r.closed = make(chan pendingEvent, 1024), make(chan struct{}), false
	go func(q <-chan pendingEvent, done chan<- struct{}) {
		defer close(done)
		for ev := range q {
			r.write(ev.ref, ev.eventType, ev.reason, ev.msg)
		}
	}(r.queue, r.done)
}

// Stop writes what is queued and returns; later events are written at once.
func (r *Recorder) Stop() {
	r.qmu.Lock()
	if r.queue == nil || r.closed {
		r.qmu.Unlock()
		return
	}
	r.closed = true
	close(r.queue)
	done := r.done
	r.qmu.Unlock()
	<-done
}

// Eventf records an event about obj.
func (r *Recorder) Eventf(obj api.Object, eventType, reason, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	m := obj.Meta()
	ns := api.KeyOf(obj).Namespace
	ref := api.ObjectReference{Kind: obj.GetTypeMeta().Kind, Namespace: ns, Name: m.Name, UID: m.UID}
	r.Record(ref, eventType, reason, msg)
}

// Record records an event about the object ref points at.
func (r *Recorder) Record(ref api.ObjectReference, eventType, reason, msg string) {
	level := slog.LevelInfo
	if eventType == api.EventTypeWarning {
		level = slog.LevelWarn
	}
	r.log.Log(context.Background(), level, msg, "kind", ref.Kind, "name", ref.Name, "reason", reason)
	r.qmu.RLock()
	if r.queue != nil && !r.closed {
		select {
		case r.queue <- pendingEvent{ref, eventType, reason, msg}:
			r.qmu.RUnlock()
			return
		default: // a burst: write this one here
		}
	}
	r.qmu.RUnlock()
	r.write(ref, eventType, reason, msg)
}

// write stores an event, or counts a repeat of one.
func (r *Recorder) write(ref api.ObjectReference, eventType, reason, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]string{}
	}
	dedupe := ref.UID + "\x00" + ref.Name + "\x00" + reason + "\x00" + msg
	now := api.Now()
	if name, ok := r.seen[dedupe]; ok {
		obj, err := r.store.Get(api.Key{Kind: api.KindEvent, Namespace: ref.Namespace, Name: name})
		if err == nil {
			ev := obj.(*api.Event)
			ev.Count++
			ev.LastTimestamp = now
			ev.ResourceVersion = ""
			if _, err := r.store.Update(ev); err == nil {
				return
			}
		}
	}
	var suffix [8]byte
	_, _ = rand.Read(suffix[:])
	ev := &api.Event{
		TypeMeta:       api.TypeMeta{APIVersion: "v1", Kind: api.KindEvent},
		ObjectMeta:     api.ObjectMeta{Name: ref.Name + "." + hex.EncodeToString(suffix[:]), Namespace: ref.Namespace},
		InvolvedObject: ref,
		Reason:         reason,
		Message:        msg,
		Type:           eventType,
		Count:          1,
		FirstTimestamp: now,
		LastTimestamp:  now,
		Source:         api.EventSource{Component: componentOf(ref.Kind)},
	}
	if _, err := r.store.Create(ev); err != nil {
		r.log.Warn("record event", "error", err)
		return
	}
	r.seen[dedupe] = ev.Name
}

func componentOf(kind string) string {
	switch kind {
	case api.KindDeployment:
		return "deployment-controller"
	case api.KindReplicaSet:
		return "replicaset-controller"
	case api.KindReplicationController:
		return "replication-controller"
	case api.KindPod:
		return "kubelet"
	case api.KindService:
		return "service-proxy"
	}
	return "mini-deploy"
}

// Prune keeps the newest maxEvents events.
func (r *Recorder) Prune() {
	objs, err := r.store.List(api.KindEvent, "")
	if err != nil || len(objs) <= maxEvents {
		return
	}
	sort.Slice(objs, func(i, j int) bool {
		return objs[i].(*api.Event).LastTimestamp.Before(objs[j].(*api.Event).LastTimestamp.Time)
	})
	drop := map[string]bool{}
	for _, obj := range objs[:len(objs)-maxEvents] {
		drop[api.KeyOf(obj).String()] = true
	}
	_, _ = r.store.Prune(api.KindEvent, func(obj api.Object) bool { return !drop[api.KeyOf(obj).String()] })
	r.mu.Lock()
	r.seen = map[string]string{}
	r.mu.Unlock()
}
