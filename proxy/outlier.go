package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"syscall"
	"time"
)

// Passive health checking, what Envoy calls outlier detection: the proxy
// does not wait for the control plane to notice a pod that died, hung or
// was frozen. An attempt that fails in a way that says the pod, not the
// request, is at fault (refused, reset or closed before any response,
// no response headers within the Service's timeout) ejects the pod at once:
// it gets no new request while another pod can take it. The ejection lasts
// ejectBase, doubling with each ejection in a row up to ejectMax; once it
// runs out, the next request tries the pod again, and its first success
// ends the streak. When every pod is ejected, requests still go to the
// least loaded one: a guess is better than refusing every request.
//
// Which requests are sent again elsewhere is another question, with
// another answer (canRetry): ejecting a pod never replays a request.

const (
	ejectBase = time.Second
	ejectMax  = 30 * time.Second
)

// nanotime is the clock of ejections.
func nanotime() int64 { return time.Now().UnixNano() }

// outlierFailure reports whether err, from an attempt on a pod, counts
// against the pod's health.
func outlierFailure(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true // no connection, or no response headers, in time
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// eject takes t out of rotation after a failure that counts against it.
func (p *Proxy) eject(t *target, err error) {
	n := t.ejections.Add(1)
	d := ejectBase << min(n-1, 5)
	if d > ejectMax {
		d = ejectMax
	}
	t.ejectedUntil.Store(nanotime() + int64(d))
	p.log.LogAttrs(context.Background(), slog.LevelWarn, "endpoint ejected",
		slog.String("pod", t.ep.Pod), slog.String("addr", t.ep.Addr),
		slog.Duration("for", d), slog.Int("in_a_row", int(n)), slog.Any("error", err))
	if p.metrics != nil {
		p.metrics.Ejected(p.opts.Service, t.ep)
	}
}

// healthy ends t's ejection streak after a request it answered.
func (t *target) healthy() {
	if t.ejections.Load() != 0 {
		t.ejections.Store(0)
		t.ejectedUntil.Store(0)
	}
}
