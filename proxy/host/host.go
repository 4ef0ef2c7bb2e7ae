// Package host runs a data plane: the Service proxies of one machine, kept
// to a desired state that the control plane pushes, apart from the control
// plane itself, so that Services keep answering while the control plane
// crashes, restarts or is upgraded.
//
// A Host holds the listening sockets and one proxy.Proxy per listener. Apply
// makes the running proxies match a State (every listener, with its
// endpoints): it is level-triggered, the whole desired state each time, so a
// control plane that restarts simply pushes what it sees and the Host keeps
// what still holds. Drain is the data plane's half of the termination
// protocol: it returns once no proxy of the Host has a request in flight to
// the addresses given, after taking them out of every endpoint set.
//
// A Host can run inside the control plane's process (tests, deploytest) or in
// a process of its own that serves it on a private unix socket (Serve, in
// serve.go), which the control plane reaches through a Fleet (fleet.go): every
// data-plane process found in a directory, each pushed the same state. A new
// process takes over a running one's listening sockets without closing them
// (Takeover, handoff.go), so an upgrade refuses no connection.
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/mini-deploy/mini-deploy/proxy"
)

// State is what a data plane should serve: every listener, with its
// endpoints. Listeners absent from it are stopped.
type State struct {
	Listeners []Listener `json:"listeners"`
}

// Listener is one Service port's proxy: where it listens and where it sends.
type Listener struct {
	Address string `json:"address"` // "127.0.0.1:30123"; the key
	Service string `json:"service"` // named in 503 texts and in metrics
	// Per-Service settings (annotations); zero takes the proxy's default.
	MaxConns              int              `json:"maxConns,omitempty"`
	DialTimeout           time.Duration    `json:"dialTimeout,omitempty"`
	ResponseHeaderTimeout time.Duration    `json:"responseHeaderTimeout,omitempty"`
	Endpoints             []proxy.Endpoint `json:"endpoints"`
}

// sameProxy reports whether a proxy built for l can serve o: everything but
// the endpoints is fixed when a proxy is made.
func (l Listener) sameProxy(o Listener) bool {
	return l.Service == o.Service && l.MaxConns == o.MaxConns &&
		l.DialTimeout == o.DialTimeout && l.ResponseHeaderTimeout == o.ResponseHeaderTimeout
}

// Status is a data plane's answer to Apply.
type Status struct {
	Version string `json:"version"`
	PID     int    `json:"pid"`
	// Failed tells, by address, why a listener could not listen (another
	// program holds the port); Apply retries it each time.
	Failed map[string]string `json:"failed,omitempty"`
}

// ErrHandedOff is returned by a Host whose listeners a newer process has
// taken over: its caller should find that process instead.
var ErrHandedOff = errors.New("this data plane has handed its listeners over to a newer process")

// Options are what a Host is built from.
type Options struct {
	Version string       // reported in Status
	Log     *slog.Logger // nil: discard
	// Inherited are listening sockets taken over from another process, by
	// address: a listener of the first State with that address serves on it
	// instead of binding anew.
	Inherited map[string]net.Listener
}

// Host runs the proxies of a data plane. Its methods are safe for
// concurrent use.
type Host struct {
	version string
	log     *slog.Logger
	metrics *Metrics
	bg      sync.WaitGroup // background drains of endpoints that left a set

	mu        sync.Mutex // serialises Apply, Drain's snapshot and Handoff
	running   map[string]*running
	inherited map[string]net.Listener
	failed    map[string]string
	handedOff bool
}

// running is one listener's proxy and its socket.
type running struct {
	l  Listener
	p  *proxy.Proxy
	ln *net.TCPListener
}

// New returns a Host that serves nothing until Apply.
func New(opts Options) *Host {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Host{
		version: opts.Version, log: opts.Log, metrics: NewMetrics(),
		running: map[string]*running{}, inherited: opts.Inherited, failed: map[string]string{},
	}
}

// Metrics returns the Prometheus metrics of the Host's proxies.
func (h *Host) Metrics() *Metrics { return h.metrics }

// Apply makes the running proxies match s: it starts the listeners that are
// new, stops those that are gone (letting their requests finish), and swaps
// the endpoints of the rest. An endpoint that left a set is drained in the
// background so its idle connections close; the termination path calls
// Drain itself. A listener that cannot listen is reported in Status.Failed
// and tried again at the next Apply.
func (h *Host) Apply(ctx context.Context, s State) (Status, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.handedOff {
		return Status{}, ErrHandedOff
	}
	want := make(map[string]Listener, len(s.Listeners))
	for _, l := range s.Listeners {
		want[l.Address] = l
	}
	var replaced []string
	for addr, r := range h.running {
		if w, ok := want[addr]; !ok || !r.l.sameProxy(w) {
			delete(h.running, addr)
			go h.stop(r)
			if ok {
				replaced = append(replaced, addr)
			}
		}
	}
	clear(h.failed)
	for addr, l := range want {
		if r, ok := h.running[addr]; ok {
			old := r.p.Endpoints()
			r.l = l
			r.p.SetEndpoints(l.Endpoints)
			h.drainGone(r.p, old, l.Endpoints)
			continue
		}
		// A proxy rebuilt on the same address (its settings changed) binds
		// once the old one has closed its socket.
		r, err := h.start(l, slices.Contains(replaced, addr))
		if err != nil {
			h.failed[addr] = err.Error()
			continue
		}
		h.running[addr] = r
	}
	return h.statusLocked(), nil
}

// start makes the proxy of l listen; a socket inherited from another process
// is used as it is. After a replace, it waits a moment for the old proxy to
// let go of the address.
func (h *Host) start(l Listener, replacing bool) (*running, error) {
	var ln net.Listener
	if in, ok := h.inherited[l.Address]; ok {
		delete(h.inherited, l.Address)
		ln = in
	} else {
		var err error
		for try := 0; ; try++ {
			ln, err = net.Listen("tcp", l.Address)
			if err == nil || !replacing || try == 40 {
				break
			}
			time.Sleep(25 * time.Millisecond)
		}
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("service %q: listen on %s: %w by another program: stop it, or pick another nodePort", l.Service, l.Address, proxy.ErrAddrInUse)
			}
			return nil, fmt.Errorf("service %q: listen on %s: %w", l.Service, l.Address, err)
		}
	}
	tcp, ok := ln.(*net.TCPListener)
	if !ok {
		ln.Close()
		return nil, fmt.Errorf("service %q: %s is not a TCP listener", l.Service, l.Address)
	}
	p := proxy.New(proxy.Options{
		Service:               l.Service,
		Listen:                l.Address,
		Logger:                h.log,
		Metrics:               h.metrics,
		MaxConns:              l.MaxConns,
		DialTimeout:           l.DialTimeout,
		ResponseHeaderTimeout: l.ResponseHeaderTimeout,
	})
	p.SetEndpoints(l.Endpoints)
	p.Serve(&quietListener{TCPListener: tcp, closed: make(chan struct{})})
	h.log.Info("service proxy listening", "service", l.Service, "address", l.Address)
	return &running{l: l, p: p, ln: tcp}, nil
}

// quietListener is the socket as a proxy sees it. StopAccepting closes the
// socket under it; its Accept then waits for the proxy's own Close, so the
// proxy neither logs a failure nor starts shutting down: a connection it has
// just accepted still gets its answer (net/http drops a request read after
// Shutdown began).
type quietListener struct {
	*net.TCPListener
	once   sync.Once
	closed chan struct{}
}

func (l *quietListener) Accept() (net.Conn, error) {
	c, err := l.TCPListener.Accept()
	if err != nil && errors.Is(err, net.ErrClosed) {
		<-l.closed
	}
	return c, err
}

func (l *quietListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	err := l.TCPListener.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// AcceptGrace is how long a Host that stopped accepting waits before it
// shuts its proxies down: time for the connections it accepted last to send
// their requests, and for keep-alive clients, told to close
// (CloseKeepAlives), to move to the new process with their next request.
const AcceptGrace = 2 * time.Second

// StopAccepting closes this process's copies of the listening sockets, after
// a handoff: the process that took them over accepts every connection from
// now on, while the proxies here go on serving the connections they have.
func (h *Host) StopAccepting() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.running {
		_ = r.ln.Close()
	}
}

// CloseKeepAlives tells the clients of every proxy to close their
// connections after their next response (proxy.Proxy.CloseKeepAlives): after
// a handoff, they move to the process that took over.
func (h *Host) CloseKeepAlives() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.running {
		r.p.CloseKeepAlives()
	}
}

// stop shuts a proxy down, letting its requests in flight finish.
func (h *Host) stop(r *running) {
	ctx, cancel := context.WithTimeout(context.Background(), proxy.DefaultDrainTimeout)
	defer cancel()
	if err := r.p.Shutdown(ctx); err != nil {
		h.log.Warn("proxy shutdown cut short", "service", r.l.Service, "address", r.l.Address, "error", err)
	}
}

// drainGone drains, in the background, the endpoints of old that are not in
// cur, so that their idle pooled connections close.
func (h *Host) drainGone(p *proxy.Proxy, old, cur []proxy.Endpoint) {
	keep := make(map[string]bool, len(cur))
	for _, e := range cur {
		keep[e.Addr] = true
	}
	for _, e := range old {
		if keep[e.Addr] {
			continue
		}
		h.bg.Add(1)
		go func() {
			defer h.bg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), proxy.DefaultDrainTimeout)
			defer cancel()
			_ = p.Drain(ctx, e.Addr)
		}()
	}
}

// Drain takes addrs out of every proxy's endpoint set and waits until none
// has a request in flight to them, or ctx ends. The first error names what
// was still in flight.
func (h *Host) Drain(ctx context.Context, addrs []string) error {
	h.mu.Lock()
	if h.handedOff {
		h.mu.Unlock()
		return ErrHandedOff
	}
	all := make([]*proxy.Proxy, 0, len(h.running))
	for _, r := range h.running {
		all = append(all, r.p)
	}
	h.mu.Unlock()
	var first error
	for _, p := range all {
		for _, a := range addrs {
			if err := p.Drain(ctx, a); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// Status reports the Host's version, process and failed listeners.
func (h *Host) Status() Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.statusLocked()
}

func (h *Host) statusLocked() Status {
	st := Status{Version: h.version, PID: os.Getpid()}
	if len(h.failed) > 0 {
		st.Failed = make(map[string]string, len(h.failed))
		for k, v := range h.failed {
			st.Failed[k] = v
		}
	}
	return st
}

// Current returns the state the Host serves now: every running listener with
// the endpoints its proxy holds (which reflect drains since the last Apply).
func (h *Host) Current() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.currentLocked()
}

func (h *Host) currentLocked() State {
	var s State
	for _, r := range h.running {
		l := r.l
		l.Endpoints = r.p.Endpoints()
		s.Listeners = append(s.Listeners, l)
	}
	sort.Slice(s.Listeners, func(i, j int) bool { return s.Listeners[i].Address < s.Listeners[j].Address })
	return s
}

// Shutdown stops every proxy, letting the requests in flight finish until
// ctx ends, and closes the sockets not yet served.
func (h *Host) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	rs := make([]*running, 0, len(h.running))
	for _, r := range h.running {
		rs = append(rs, r)
	}
	clear(h.running)
	for _, ln := range h.inherited {
		ln.Close()
	}
	clear(h.inherited)
	h.mu.Unlock()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, r := range rs {
		wg.Go(func() {
			if err := r.p.Shutdown(ctx); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	h.bg.Wait()
	return first
}

// Gather returns the metrics of the Host's proxies (prometheus.Gatherer).
func (h *Host) Gather() ([]*dto.MetricFamily, error) { return h.metrics.Gather() }
