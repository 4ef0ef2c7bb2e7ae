package fake

import (
	"context"
	"io"
	"sync"
	"time"

	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// Events streams events about managed containers until ctx ends. Each call
// gets its own stream, starting with EventResync.
func (r *Runtime) Events(ctx context.Context) <-chan rt.Event {
	out := make(chan rt.Event)
	q := rt.NewEventQueue()
	r.mu.Lock()
	q.Push(rt.Event{Type: rt.EventResync, Time: r.now()})
	r.subscribers[q] = true
	r.mu.Unlock()

	go func() {
		defer close(out)
		defer func() {
			r.mu.Lock()
			delete(r.subscribers, q)
			r.mu.Unlock()
		}()
		q.Forward(ctx, out)
	}()
	return out
}

// publishLocked queues ev for every stream; while the engine is unavailable
// the streams are down and the event is lost, as it would be.
func (r *Runtime) publishLocked(ev rt.Event) {
	if r.unavailable {
		return
	}
	for q := range r.subscribers {
		q.Push(ev)
	}
}

// Logs returns what the container's process wrote; with Follow it streams
// until ctx ends or the process stops.
func (r *Runtime) Logs(ctx context.Context, id string, opts rt.LogOptions) (io.ReadCloser, error) {
	r.mu.Lock()
	if err := r.checkLocked(ctx, "logs"); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	c, err := r.findLocked(id, false)
	if err != nil {
		r.mu.Unlock()
		return nil, err
	}
	first := 0
	switch {
	case opts.Tail > 0:
		first = tailStart(c.logs, opts.Tail)
	case opts.Tail < 0:
		first = len(c.logs)
	}
	r.mu.Unlock()

	pr, pw := io.Pipe()
	closed := make(chan struct{})
	go func() {
		next := first
		for {
			r.mu.Lock()
			lines := c.logs[next:]
			next = len(c.logs)
			running := c.info.State == rt.StateRunning
			changed := c.changed
			r.mu.Unlock()
			for _, l := range lines {
				if _, err := pw.Write(format(l, opts.Timestamps)); err != nil {
					return
				}
			}
			if !opts.Follow || !running {
				pw.Close()
				return
			}
			select {
			case <-changed:
			case <-closed:
				return
			case <-ctx.Done():
				pw.CloseWithError(ctx.Err())
				return
			}
		}
	}()
	return &logReader{PipeReader: pr, closed: closed}, nil
}

// logReader ends the follower goroutine when the reader is closed early.
type logReader struct {
	*io.PipeReader
	closed chan struct{}
	once   sync.Once
}

func (l *logReader) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.PipeReader.Close()
}

// tailStart returns the index of the first of the last n lines.
func tailStart(lines []logLine, n int) int { return max(0, len(lines)-n) }

func format(l logLine, timestamps bool) []byte {
	if !timestamps {
		return []byte(l.text)
	}
	return []byte(l.at.UTC().Format(time.RFC3339Nano) + " " + l.text)
}
