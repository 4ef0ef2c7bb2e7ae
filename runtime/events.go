package runtime

import (
	"context"
	"sync"
)

// EventQueue is an unbounded, ordered buffer between the producer of an
// Events stream and its reader, so that a runtime never blocks on, nor drops
// events for, a slow reader: the engine drops events for a subscriber that
// does not read them, and a dropped event, unlike a reconnect, is not
// followed by a resync. Both runtimes use it.
type EventQueue struct {
	mu     sync.Mutex
	events []Event
	wake   chan struct{} // one pending wake-up at most
}

// NewEventQueue returns an empty queue.
func NewEventQueue() *EventQueue { return &EventQueue{wake: make(chan struct{}, 1)} }

// Push queues ev; it never blocks.
func (q *EventQueue) Push(ev Event) {
	q.mu.Lock()
	q.events = append(q.events, ev)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Forward delivers queued events to out in order until ctx ends. The caller
// closes out.
func (q *EventQueue) Forward(ctx context.Context, out chan<- Event) {
	for {
		select {
		case <-q.wake:
		case <-ctx.Done():
			return
		}
		q.mu.Lock()
		batch := q.events
		q.events = nil
		q.mu.Unlock()
		for _, ev := range batch {
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}
}
