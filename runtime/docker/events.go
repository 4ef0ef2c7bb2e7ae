package docker

import (
	"context"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// Reconnect backoff of the event stream. The maximum stays short because
// nothing is learnt about containers while the stream is down.
const (
	eventsMinBackoff = 100 * time.Millisecond
	eventsMaxBackoff = 5 * time.Second
)

// Events streams start, die, destroy and oom events of managed containers
// until ctx ends, then closes the channel. It sends EventResync once the
// stream is connected and again after every reconnect, since events may have
// been missed while it was down.
func (e *Engine) Events(ctx context.Context) <-chan rt.Event {
	out := make(chan rt.Event)
	q := rt.NewEventQueue()
	go e.streamEvents(ctx, q.Push)
	go func() {
		defer close(out)
		q.Forward(ctx, out)
	}()
	return out
}

func (e *Engine) streamEvents(ctx context.Context, send func(rt.Event)) {
	args := filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("label", rt.ManagedLabel+"=true"),
		filters.Arg("event", string(events.ActionStart)),
		filters.Arg("event", string(events.ActionDie)),
		filters.Arg("event", string(events.ActionDestroy)),
		filters.Arg("event", string(events.ActionOOM)),
		filters.Arg("event", string(events.ActionPause)),
		filters.Arg("event", string(events.ActionUnPause)),
	)
	backoff := eventsMinBackoff
	for ctx.Err() == nil {
		connected := e.followEvents(ctx, args, send)
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff = eventsMinBackoff
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, eventsMaxBackoff)
	}
}

// followEvents runs one connection of the stream until it fails. It reports
// whether the connection was up long enough to count as a reconnect, so
// that a flapping engine still backs off.
func (e *Engine) followEvents(ctx context.Context, args filters.Args, send func(rt.Event)) bool {
	// Ping first: Events itself reports a refused connection only through
	// its error channel, after a resync would already have been sent.
	if err := e.Ping(ctx); err != nil {
		return false
	}
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The engine may answer the request a moment before it subscribes us;
	// asking for the last second's events too (it replays them from memory)
	// closes that gap, so a list made after the resync misses nothing.
	// Replayed events are harmless to level-triggered consumers.
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	msgs, errs := e.cli.Events(streamCtx, events.ListOptions{Filters: args, Since: since})
	select {
	case <-errs:
		return false
	default:
	}
	began := time.Now()
	send(rt.Event{Type: rt.EventResync, Time: began})
	for {
		select {
		case m := <-msgs:
			send(toEvent(m))
		case <-errs:
			return time.Since(began) >= eventsMaxBackoff
		case <-ctx.Done():
			return true
		}
	}
}

// eventAttributes are the attributes the engine adds to a container's
// labels in an event; the rest are the labels.
var eventAttributes = map[string]bool{"name": true, "image": true, "exitCode": true, "signal": true}

func toEvent(m events.Message) rt.Event {
	ev := rt.Event{
		Type:        rt.EventType(m.Action),
		ContainerID: m.Actor.ID,
		Name:        m.Actor.Attributes["name"],
		Labels:      map[string]string{},
		Time:        time.Unix(0, m.TimeNano),
	}
	for k, v := range m.Actor.Attributes {
		if !eventAttributes[k] {
			ev.Labels[k] = v
		}
	}
	if code, err := strconv.Atoi(m.Actor.Attributes["exitCode"]); err == nil {
		ev.ExitCode = code
	}
	return ev
}
