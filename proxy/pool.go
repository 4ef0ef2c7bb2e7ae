package proxy

import (
	"bufio"
	"context"
	"net"
	"sync"
	"syscall"
	"time"
)

// pool holds the idle keep-alive connections to one endpoint.
//
// The proxy speaks HTTP/1.1 to pods over these connections itself, using
// net/http's own Request.Write and ReadResponse, instead of going through an
// http.Transport. The Transport gives every connection a reading and a
// writing goroutine and hands each request between them over channels.
// Doing the round trip on the handler's goroutine instead took the proxy's
// CPU time per request in bench.sh from 120-140 µs to about 90 µs (nginx:
// about 50 µs) against a tuned per-endpoint Transport. What the Transport
// gave for free and the pool does by hand: a LIFO idle list capped
// at MaxIdleConnsPerEndpoint, idle connections closed after IdleConnTimeout,
// and a check, before reuse, that the pod has not closed the connection while
// it sat idle.
type pool struct {
	addr   string
	dialer net.Dialer
	max    int
	ttl    time.Duration

	mu     sync.Mutex
	idle   []*upstreamConn // most recently used last
	closed bool            // set once the endpoint is drained: nothing goes back
	sweep  *time.Timer
}

// upstreamConn is one keep-alive connection to a pod.
type upstreamConn struct {
	net.Conn
	raw      syscall.RawConn
	br       *bufio.Reader
	bw       *bufio.Writer
	idleFrom time.Time
	abort    func() // fails every pending and later read and write; made once
	// written counts the bytes the kernel took on this connection, so that
	// a failed attempt knows whether any of its request left the proxy.
	written int64
}

// countingWriter is the writer under an upstreamConn's bufio.Writer.
type countingWriter struct{ c *upstreamConn }

func (w countingWriter) Write(b []byte) (int, error) {
	n, err := w.c.Conn.Write(b)
	w.c.written += int64(n)
	return n, err
}

func newPool(addr string, o *Options) *pool {
	return &pool{
		addr:   addr,
		dialer: net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second},
		max:    o.MaxIdleConnsPerEndpoint,
		ttl:    o.IdleConnTimeout,
	}
}

// get returns an idle connection, or dials a new one. reused tells the caller
// that a failure may be a connection the pod closed just now, not the pod.
func (p *pool) get(ctx context.Context) (c *upstreamConn, reused bool, err error) {
	now := time.Now()
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		c = p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if now.Sub(c.idleFrom) < p.ttl && c.alive(now) {
			return c, true, nil
		}
		c.Close()
	}
	c, err = p.dial(ctx)
	return c, false, err
}

// dial opens a new connection to the endpoint.
func (p *pool) dial(ctx context.Context) (*upstreamConn, error) {
	conn, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	c := &upstreamConn{Conn: conn, br: bufio.NewReaderSize(conn, 4096)}
	c.bw = bufio.NewWriterSize(countingWriter{c}, 4096)
	c.abort = func() { conn.SetDeadline(aLongTimeAgo) }
	if sc, ok := conn.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	return c, nil
}

// put returns a connection whose last response was read to the end.
func (p *pool) put(c *upstreamConn) {
	c.idleFrom = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.max {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.idle = append(p.idle, c)
	if p.sweep == nil {
		p.sweep = time.AfterFunc(p.ttl, p.closeExpired)
	}
	p.mu.Unlock()
}

// closeExpired closes the connections idle for longer than the TTL, so that
// a pod that no longer gets traffic is not held by file descriptors.
func (p *pool) closeExpired() {
	now := time.Now()
	p.mu.Lock()
	var expired []*upstreamConn
	kept := p.idle[:0]
	for _, c := range p.idle { // oldest first
		if now.Sub(c.idleFrom) >= p.ttl {
			expired = append(expired, c)
		} else {
			kept = append(kept, c)
		}
	}
	clear(p.idle[len(kept):])
	p.idle = kept
	p.sweep = nil
	if len(p.idle) > 0 {
		p.sweep = time.AfterFunc(p.ttl-now.Sub(p.idle[0].idleFrom), p.closeExpired)
	}
	p.mu.Unlock()
	for _, c := range expired {
		c.Close()
	}
}

// close closes the idle connections, and every connection returned later.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	if p.sweep != nil {
		p.sweep.Stop()
		p.sweep = nil
	}
	p.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// recheckAfter is how long a connection must have been idle before get asks
// the kernel whether the pod closed it. A pod closes an idle connection after
// seconds (Node: 5 s); a connection reused within this window is not worth
// the extra system call, and under load every connection is.
const recheckAfter = 100 * time.Millisecond

// alive reports whether the pod has not closed the connection, nor sent
// anything unasked, while it was idle. Without it, a request could be
// written to a connection the pod has already closed, and a request with a
// body could not be retried.
func (c *upstreamConn) alive(now time.Time) bool {
	if now.Sub(c.idleFrom) < recheckAfter {
		return true
	}
	return c.open()
}

// open asks the kernel, without blocking, whether the pod has closed the
// connection or sent something unasked. It is the last look before a
// request that may not be sent twice is written on a reused connection.
func (c *upstreamConn) open() bool {
	if c.raw == nil {
		return true
	}
	if c.br.Buffered() > 0 {
		return false
	}
	alive := true
	var b [1]byte
	c.raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	})
	return alive
}

// copyBufferSize matches io.Copy's default: large enough for most bodies in
// one read, small enough to keep a pooled buffer per active response cheap.
const copyBufferSize = 32 << 10

// bufferPool lends response copy buffers, so that a request allocates none.
var bufferPool = sync.Pool{New: func() any {
	b := make([]byte, copyBufferSize)
	return &b
}}
