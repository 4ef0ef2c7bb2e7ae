package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Drain takes addr out of service: it removes addr from the set if it is
// still there, waits until no request is in flight to it, then closes its
// idle pooled connections and its tunnels (upgrade.go). It returns the cause (wrapped) if ctx ends first,
// or context.DeadlineExceeded after Options.DrainTimeout when ctx has no
// deadline; requests still in flight then keep running until they end or the
// pod goes away. Drain of an address the proxy does not know, or that has
// already drained, returns nil at once. Concurrent Drains of the same address
// are fine.
func (p *Proxy) Drain(ctx context.Context, addr string) error {
	defer p.closeTunnels(addr)
	p.mu.Lock()
	old := p.lb.targets()
	var gone []*target
	if i := slices.IndexFunc(old, func(t *target) bool { return t.ep.Addr == addr }); i >= 0 {
		next := slices.Delete(slices.Clone(old), i, i+1)
		gone = append(gone, old[i])
		p.lb.set.Store(&next)
	}
	remaining := len(p.lb.targets())
	// Every live target for addr is now out of the set, or about to be marked
	// removed by a SetEndpoints that has just published the set without it.
	waiting := slices.Clone(p.live[addr])
	p.mu.Unlock()
	if len(gone) > 0 {
		p.retire(gone, remaining)
	}
	if len(waiting) == 0 {
		return nil
	}

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.opts.DrainTimeout)
		defer cancel()
	}
	start := time.Now()
	for _, t := range waiting {
		select {
		case <-t.drained:
			continue // already drained: ctx does not matter
		default:
		}
		select {
		case <-t.drained:
		case <-ctx.Done():
			n := t.inflight.Load()
			p.log.Warn("drain did not finish", slog.String("pod", t.ep.Pod), slog.String("addr", addr),
				slog.Int64("in_flight", n), slog.Duration("waited", time.Since(start)))
			return fmt.Errorf("service %q: drain %s (pod %s): %d requests still in flight: %w",
				p.opts.Service, addr, t.ep.Pod, n, context.Cause(ctx))
		}
	}
	p.log.Debug("endpoint drained", slog.String("addr", addr), slog.Duration("waited", time.Since(start)))
	return nil
}
