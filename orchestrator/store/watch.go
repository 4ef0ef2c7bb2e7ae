package store

import (
	"context"
	"sync"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// EventType says what a change did to an object.
type EventType int

// Event types, printed as Kubernetes watch events print them.
const (
	Added EventType = iota + 1
	Modified
	Deleted
)

func (t EventType) String() string {
	switch t {
	case Added:
		return "ADDED"
	case Modified:
		return "MODIFIED"
	case Deleted:
		return "DELETED"
	}
	return "UNKNOWN"
}

// Event is one committed change. Object is the object after the change; for
// Deleted it is the last stored state carrying the revision of the delete, as
// in Kubernetes, so resourceVersions in a stream always increase. Old is the
// state before the change, nil for Added. Both are the receiver's own copies.
type Event struct {
	Type   EventType
	Object api.Object
	Old    api.Object
}

// watcher queues events for one subscriber. Writers only append under a
// short lock; the subscriber's goroutine copies and delivers them, so the
// cost of a slow reader falls on that reader alone.
type watcher struct {
	mu    sync.Mutex
	queue []Event // objects shared by all watchers; copied on delivery
	done  bool    // the store closed: deliver what is queued, then stop
	wake  chan struct{}
	// limit bounds the queue, 0 not at all. A subscriber that falls this
	// far behind is cut off: its queue is dropped and its channel closed,
	// as the Kubernetes API server closes a watch it cannot keep up with.
	limit  int
	cutOff bool
}

func newWatcher(limit int) *watcher { return &watcher{wake: make(chan struct{}, 1), limit: limit} }

func (w *watcher) push(events []Event) {
	w.mu.Lock()
	if !w.cutOff {
		w.queue = append(w.queue, events...)
		if w.limit > 0 && len(w.queue) > w.limit {
			w.queue, w.cutOff = nil, true
		}
	}
	w.mu.Unlock()
	w.signal()
}

func (w *watcher) finish() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
	w.signal()
}

func (w *watcher) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) run(ctx context.Context, out chan<- Event) {
	defer close(out)
	for {
		w.mu.Lock()
		batch, done := w.queue, w.done || w.cutOff
		w.queue = nil
		w.mu.Unlock()
		for i, ev := range batch {
			select {
			case out <- ev.copy():
				batch[i] = Event{} // let delivered objects go before the batch ends
			case <-ctx.Done():
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		if done {
			return
		}
		select {
		case <-w.wake:
		case <-ctx.Done():
			return
		}
	}
}

func (ev Event) copy() Event {
	c := Event{Type: ev.Type, Object: ev.Object.DeepCopy()}
	if ev.Old != nil {
		c.Old = ev.Old.DeepCopy()
	}
	return c
}
