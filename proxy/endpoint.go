package proxy

import (
	"sync"
	"sync/atomic"
)

// Endpoint is one ready pod behind a Service, as the orchestrator sees it.
type Endpoint struct {
	Pod      string // pod name, for logs, metrics and describe
	Addr     string // "ip:port" the proxy dials
	Revision string // pod-template-hash, for metrics
}

// target is the proxy's side of an Endpoint: its in-flight count, its own
// connection pool, and its place in the lifecycle. A target lives from the
// SetEndpoints that adds it until it is both removed and idle; a target that
// comes back later is a new target, so a pod that inherits an old pod's IP
// never shares its connections.
type target struct {
	ep Endpoint

	// inflight and removed form the handshake that makes draining exact (see
	// acquire). Both are sequentially consistent atomics: the requester writes
	// inflight then reads removed, the remover writes removed then reads
	// inflight, so at least one of them sees the other.
	inflight atomic.Int64
	removed  atomic.Bool

	// One pool per target, so that closing idle connections touches this pod
	// only, and so that once closed the pool closes every connection handed
	// back to it later.
	pool *pool

	finishOnce sync.Once
	drained    chan struct{} // closed once removed, idle and its idle connections closed
	onFinish   func(*target)

	// Passive health (outlier.go): until ejectedUntil (unix nanoseconds)
	// the target gets no new request while another one can take it;
	// ejections counts the ejections in a row, for the back-off.
	ejectedUntil atomic.Int64
	ejections    atomic.Int32
}

func newTarget(ep Endpoint, pool *pool, onFinish func(*target)) *target {
	return &target{ep: ep, pool: pool, drained: make(chan struct{}), onFinish: onFinish}
}

// acquire counts a request against t before it is dispatched. It fails if t
// has been removed: the count is taken back and the caller picks again. Taking
// the count first and checking removed second is what guarantees that a Drain
// started after the removal either sees this request in flight or this
// request sees the removal and never reaches the pod.
func (t *target) acquire() bool {
	t.inflight.Add(1)
	if t.removed.Load() {
		t.release()
		return false
	}
	return true
}

// release ends a request counted by acquire. The last request out of a
// removed target finishes it.
func (t *target) release() {
	if t.inflight.Add(-1) == 0 && t.removed.Load() {
		t.finish()
	}
}

// remove stops new requests to t. If none is in flight, t is finished now;
// otherwise the last release will do it.
func (t *target) remove() {
	t.removed.Store(true)
	if t.inflight.Load() == 0 {
		t.finish()
	}
}

// finish runs once t is removed and idle: no request can reach it any more,
// so closing its idle connections now closes them for good.
func (t *target) finish() {
	t.finishOnce.Do(func() {
		t.pool.close()
		close(t.drained)
		if t.onFinish != nil {
			t.onFinish(t)
		}
	})
}
