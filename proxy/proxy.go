// Package proxy is the data plane of a mini-deploy Service: one HTTP reverse
// proxy per Service port, listening on the node port and forwarding to the
// ready pods behind it.
//
// The orchestrator owns the truth about pods and pushes it in. SetEndpoints
// swaps the whole set at once; from that instant a pod left out of the set
// gets no new request, while the requests it is already serving carry on.
// Before the orchestrator stops a pod it calls Drain, which returns once the
// last of those requests has finished and the pod's idle pooled connections
// are closed, so SIGTERM never cuts a request short and a new container that
// inherits the IP never receives a request on an old connection.
//
// In between, each request goes to the endpoint with the fewest requests in
// flight. A request without a body that fails before any response byte (the
// pod refused, reset or closed the connection) is sent again to another pod;
// a request with a body only when the connection could not even be opened,
// because otherwise the pod may have acted on it. With no endpoint the client
// gets a 503 naming the Service.
//
// The server and the forwarding path are written for this proxy rather than
// taken from net/http's Server, httputil.ReverseProxy and http.Transport,
// because the proxy's CPU time per request is what bounds its throughput on
// a small machine. The server (server.go) reads requests with net/http's own
// parser and answers as net/http's server would, without its per-request
// read-ahead, context and response. The forwarding path writes the
// head of a bodyless request straight from the client's header to the pod,
// copies bodies through pooled buffers, watches the client once per attempt,
// and does the round trip on the handler's goroutine over its own keep-alive
// pool (pool.go says why). A request with a body goes through net/http's
// Request.Write, which frames it, and every response through ReadResponse.
// BenchmarkServeHTTP counts what is left: 11 allocations a request.
//
// A WebSocket handshake (any request to switch protocols) reaches the pod
// with its Upgrade header; if the pod switches, the connection becomes a
// tunnel that copies bytes both ways until either side closes, and Drain
// closes it before the pod is stopped (upgrade.go).
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/netutil"
)

// Defaults for the zero values of Options.
const (
	DefaultDrainTimeout = 30 * time.Second
	// DefaultReadHeaderTimeout cuts off a client that trickles its headers,
	// which would otherwise hold a connection and a goroutine for ever.
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 1 << 20
	// DefaultDialTimeout is short because pods are on the local bridge: a dial
	// that takes longer is to a container that is gone, and the request is
	// better retried on another pod.
	DefaultDialTimeout           = 2 * time.Second
	DefaultResponseHeaderTimeout = 60 * time.Second
	// DefaultIdleConnTimeout is below Node.js's 5 s keep-alive timeout (the
	// seed's kubia is a Node app) so that the proxy, not the pod, closes an
	// idle connection. Otherwise a request can be written on a connection the
	// pod is closing at that moment, and a request with a body cannot be
	// retried.
	DefaultIdleConnTimeout         = 4 * time.Second
	DefaultMaxIdleConnsPerEndpoint = 128
	// DefaultMaxTries bounds the attempts for one request, the first included.
	DefaultMaxTries = 3
	// DefaultMaxConns bounds the client connections served at once; more
	// wait in the kernel's accept queue, as with HAProxy's maxconn.
	DefaultMaxConns = 10000
	// DefaultBodyReadTimeout is how long a request body may go without a
	// byte before the proxy gives up on it (nginx's client_body_timeout).
	DefaultBodyReadTimeout = 60 * time.Second
	// DefaultTunnelIdleTimeout closes a WebSocket (or other upgraded)
	// connection that carried nothing either way for this long (HAProxy's
	// timeout tunnel).
	DefaultTunnelIdleTimeout = time.Hour
)

// ErrAddrInUse is returned, wrapped, by Start when the listen address is taken.
var ErrAddrInUse = errors.New("address already in use")

// Options configures a Proxy. Zero values take the Default constants.
type Options struct {
	Service      string        // "kubia" or "default/kubia": named in the 503 text and in metrics
	Listen       string        // "127.0.0.1:30123"
	Logger       *slog.Logger  // nil: discard
	Metrics      Metrics       // nil: none
	DrainTimeout time.Duration // cap for Drain when ctx has no deadline

	ReadHeaderTimeout       time.Duration // server: time to read a request's headers
	IdleTimeout             time.Duration // server: keep-alive connection idle time
	MaxHeaderBytes          int           // server: request header size limit
	DialTimeout             time.Duration // transport: connect to a pod
	ResponseHeaderTimeout   time.Duration // transport: wait for a pod's response headers
	IdleConnTimeout         time.Duration // transport: keep an idle pod connection
	MaxIdleConnsPerEndpoint int           // transport: idle connections kept per pod
	MaxTries                int           // attempts per request, retries included
	MaxConns                int           // server: client connections served at once
	BodyReadTimeout         time.Duration // server: longest wait for the next byte of a request body
	TunnelIdleTimeout       time.Duration // tunnels: longest time without a byte either way
	// StdlibServer serves clients with net/http's server instead of the
	// proxy's own (server.go), which does the same with less work.
	StdlibServer bool
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.DrainTimeout, DefaultDrainTimeout)
	def(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.DialTimeout, DefaultDialTimeout)
	def(&o.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	def(&o.IdleConnTimeout, DefaultIdleConnTimeout)
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.MaxIdleConnsPerEndpoint <= 0 {
		o.MaxIdleConnsPerEndpoint = DefaultMaxIdleConnsPerEndpoint
	}
	if o.MaxTries <= 0 {
		o.MaxTries = DefaultMaxTries
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	def(&o.BodyReadTimeout, DefaultBodyReadTimeout)
	def(&o.TunnelIdleTimeout, DefaultTunnelIdleTimeout)
}

// Proxy is the reverse proxy of one Service port. It is an http.Handler, so
// it can also be mounted on a server the caller owns instead of Start.
type Proxy struct {
	opts    Options
	log     *slog.Logger
	metrics Metrics
	lb      loadBalancer

	noEndpoints string // the 503 text, built once

	mu sync.Mutex // serialises changes to the set and to live
	// live holds, by address, every target that is in the set or removed but
	// still serving requests: what Drain waits for.
	live map[string][]*target
	// tunnels holds, by pod address, the connections switched to another
	// protocol (upgrade.go); closed is set by Shutdown.
	tunnels map[string]map[*tunnel]struct{}
	closed  bool

	server *http.Server // with StdlibServer
	own    *server      // otherwise
	ln     net.Listener
	// lastResponses: every response tells the client to close its
	// connection (CloseKeepAlives).
	lastResponses atomic.Bool
}

// CloseKeepAlives makes every response from now on carry Connection: close,
// so that clients leave their keep-alive connections after their next
// request instead of finding them closed under them. A process that handed
// its listeners over calls it, lets the clients move, then shuts down: only
// a connection idle for all that while is closed by Shutdown.
func (p *Proxy) CloseKeepAlives() { p.lastResponses.Store(true) }

// New returns a Proxy with no endpoints. It does not listen until Start.
func New(opts Options) *Proxy {
	opts.setDefaults()
	return &Proxy{
		opts:        opts,
		log:         opts.Logger.With(slog.String("service", opts.Service)),
		metrics:     opts.Metrics,
		noEndpoints: fmt.Sprintf("no ready endpoints for service %q", opts.Service),
		live:        make(map[string][]*target),
		tunnels:     make(map[string]map[*tunnel]struct{}),
	}
}

// Start binds the listen address and serves in the background.
func (p *Proxy) Start() error {
	ln, err := net.Listen("tcp", p.opts.Listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("service %q: listen on %s: %w by another program: stop it, or pick another nodePort", p.opts.Service, p.opts.Listen, ErrAddrInUse)
		}
		return fmt.Errorf("service %q: listen on %s: %w", p.opts.Service, p.opts.Listen, err)
	}
	p.serve(ln)
	return nil
}

// Serve serves on a listener the caller opened, such as one that reserved a
// node port when the port was allocated; Options.Listen is then unused.
func (p *Proxy) Serve(ln net.Listener) {
	p.serve(ln)
}

func (p *Proxy) serve(ln net.Listener) {
	p.ln = ln
	ln = netutil.LimitListener(ln, p.opts.MaxConns)
	p.log.Info("proxy listening", slog.String("addr", ln.Addr().String()))
	if !p.opts.StdlibServer {
		p.own = newServer(p, ln)
		go func() {
			if err := p.own.serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				p.log.Error("proxy stopped serving", slog.Any("error", err))
			}
		}()
		return
	}
	p.server = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: p.opts.ReadHeaderTimeout,
		IdleTimeout:       p.opts.IdleTimeout,
		MaxHeaderBytes:    p.opts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := p.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("proxy stopped serving", slog.Any("error", err))
		}
	}()
}

// Addr returns the address the proxy listens on, with the actual port when
// Listen asked for port 0.
func (p *Proxy) Addr() string {
	if p.ln != nil {
		return p.ln.Addr().String()
	}
	return p.opts.Listen
}

// Shutdown stops accepting connections, waits for the requests being served
// (or ctx) and closes every pooled connection and tunnel to the pods.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.closeTunnels("")
	var err error
	if p.server != nil {
		err = p.server.Shutdown(ctx)
	}
	if p.own != nil {
		err = p.own.shutdown(ctx)
	}
	p.mu.Lock()
	for _, ts := range p.live {
		for _, t := range ts {
			t.pool.close()
		}
	}
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("service %q: shutdown: %w", p.opts.Service, err)
	}
	return nil
}

// SetEndpoints replaces the endpoint set. An endpoint absent from eps gets no
// new request once SetEndpoints returns; its requests in flight continue and
// Drain waits for them. An endpoint present before and after, with the same
// pod and address, keeps its pooled connections. A repeated address keeps its
// first entry.
func (p *Proxy) SetEndpoints(eps []Endpoint) {
	p.mu.Lock()
	old := p.lb.targets()
	next := make([]*target, 0, len(eps))
	for _, ep := range eps {
		if slices.ContainsFunc(next, func(t *target) bool { return t.ep.Addr == ep.Addr }) {
			continue
		}
		if i := slices.IndexFunc(old, func(t *target) bool { return t.ep == ep }); i >= 0 {
			next = append(next, old[i])
			continue
		}
		t := newTarget(ep, newPool(ep.Addr, &p.opts), p.forget)
		p.live[ep.Addr] = append(p.live[ep.Addr], t)
		next = append(next, t)
	}
	var gone []*target
	for _, t := range old {
		if !slices.Contains(next, t) {
			gone = append(gone, t)
		}
	}
	p.lb.set.Store(&next)
	p.mu.Unlock()
	p.retire(gone, len(next))
}

// Endpoints returns the current endpoint set.
func (p *Proxy) Endpoints() []Endpoint {
	ts := p.lb.targets()
	eps := make([]Endpoint, len(ts))
	for i, t := range ts {
		eps[i] = t.ep
	}
	return eps
}

// retire marks targets removed once the new set is published. It runs
// outside p.mu because removing an idle target finishes it at once, and
// finishing takes p.mu to forget it.
func (p *Proxy) retire(gone []*target, remaining int) {
	for _, t := range gone {
		t.remove()
		p.log.Debug("endpoint removed", slog.String("pod", t.ep.Pod), slog.String("addr", t.ep.Addr))
	}
	if p.metrics != nil {
		p.metrics.ReadyEndpoints(p.opts.Service, remaining)
	}
}

// forget drops a finished target from live, and its metrics unless the same
// endpoint is back in the set meanwhile.
func (p *Proxy) forget(t *target) {
	p.mu.Lock()
	ts := slices.DeleteFunc(p.live[t.ep.Addr], func(x *target) bool { return x == t })
	if len(ts) == 0 {
		delete(p.live, t.ep.Addr)
	} else {
		p.live[t.ep.Addr] = ts
	}
	back := slices.ContainsFunc(ts, func(x *target) bool { return x.ep.Pod == t.ep.Pod })
	p.mu.Unlock()
	if p.metrics != nil && !back {
		p.metrics.EndpointGone(p.opts.Service, t.ep)
	}
}
