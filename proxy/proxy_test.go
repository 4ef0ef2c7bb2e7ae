package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// backend starts an httptest server answering with its name, registered for
// cleanup, and returns its Endpoint.
func backend(t *testing.T, name string, h http.HandlerFunc) Endpoint {
	t.Helper()
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, name)
		}
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return Endpoint{Pod: name, Addr: srv.Listener.Addr().String(), Revision: "r1"}
}

// deadAddr returns an address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func startProxy(t *testing.T, opts Options) *Proxy {
	t.Helper()
	if opts.Service == "" {
		opts.Service = "kubia"
	}
	opts.Listen = "127.0.0.1:0"
	p := New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
	})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, p *Proxy) (int, string) {
	t.Helper()
	resp, err := c.Get("http://" + p.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestRoundRobinSpread(t *testing.T) {
	p := startProxy(t, Options{})
	p.SetEndpoints([]Endpoint{backend(t, "a", nil), backend(t, "b", nil), backend(t, "c", nil)})
	c := newClient(t)
	seen := map[string]int{}
	for range 30 {
		code, body := get(t, c, p)
		if code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		seen[body]++
	}
	for _, name := range []string{"a", "b", "c"} {
		if seen[name] != 10 {
			t.Errorf("spread %v, want 10 each", seen)
		}
	}
}

func TestNoEndpointsIs503NamingTheService(t *testing.T) {
	p := startProxy(t, Options{Service: "default/kubia"})
	code, body := get(t, newClient(t), p)
	if code != http.StatusServiceUnavailable || body != "no ready endpoints for service \"default/kubia\"\n" {
		t.Fatalf("got %d %q", code, body)
	}
}

func TestEndpointsReturnsTheCurrentSet(t *testing.T) {
	p := startProxy(t, Options{})
	eps := []Endpoint{backend(t, "a", nil), backend(t, "b", nil)}
	p.SetEndpoints(append(eps, eps[0])) // a repeated address keeps its first entry
	if got := p.Endpoints(); len(got) != 2 || got[0] != eps[0] || got[1] != eps[1] {
		t.Fatalf("Endpoints() = %v, want %v", got, eps)
	}
	p.SetEndpoints(nil)
	if got := p.Endpoints(); len(got) != 0 {
		t.Fatalf("Endpoints() = %v, want none", got)
	}
}

func TestGetIsRetriedOnADeadEndpoint(t *testing.T) {
	m := &fakeMetrics{}
	p := startProxy(t, Options{Metrics: m})
	dead := Endpoint{Pod: "dead", Addr: deadAddr(t)}
	p.SetEndpoints([]Endpoint{dead, backend(t, "live", nil)})
	c := newClient(t)
	for range 10 {
		if code, body := get(t, c, p); code != http.StatusOK || body != "live" {
			t.Fatalf("got %d %q", code, body)
		}
	}
	if m.retries.Load() == 0 {
		t.Fatal("no retry counted")
	}
}

func TestGetIsRetriedWhenThePodResetsBeforeAnswering(t *testing.T) {
	p := startProxy(t, Options{})
	reset := backend(t, "reset", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0) // RST, not FIN
			conn.Close()
		}
	})
	p.SetEndpoints([]Endpoint{reset, backend(t, "live", nil)})
	c := newClient(t)
	for range 10 {
		if code, body := get(t, c, p); code != http.StatusOK || body != "live" {
			t.Fatalf("got %d %q", code, body)
		}
	}
}

func TestRequestWithBodyIsNeverRetried(t *testing.T) {
	m := &fakeMetrics{}
	p := startProxy(t, Options{Metrics: m})
	var hits, resets atomic.Int64
	live := backend(t, "live", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
	})
	// The pod reads the body, so it may have acted on it, then resets.
	reset := backend(t, "reset", func(w http.ResponseWriter, r *http.Request) {
		resets.Add(1)
		io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
	})
	p.SetEndpoints([]Endpoint{reset, live})
	c := newClient(t)
	var failed int
	for range 10 {
		resp, err := c.Post("http://"+p.Addr()+"/", "text/plain", strings.NewReader("order 66"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusBadGateway {
			failed++
		}
	}
	// Each POST the resetting pod took failed, and none was sent on; the
	// pod is ejected after its first reset (outlier.go), so the rest go to
	// the live pod.
	if failed == 0 || int64(failed) != resets.Load() || hits.Load()+resets.Load() != 10 || m.retries.Load() != 0 {
		t.Fatalf("%d POSTs failed, %d reached the resetting pod, %d the live one, %d retries; want failed = reset, 10 in all, 0 retries",
			failed, resets.Load(), hits.Load(), m.retries.Load())
	}
}

func TestRequestWithBodyIsRetriedWhenTheDialFails(t *testing.T) {
	m := &fakeMetrics{}
	p := startProxy(t, Options{Metrics: m})
	var hits atomic.Int64
	live := backend(t, "live", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
	})
	// Nothing was written to a pod that refused the connection: not even
	// the body, so the request is safe to send elsewhere.
	p.SetEndpoints([]Endpoint{{Pod: "dead", Addr: deadAddr(t)}, live})
	c := newClient(t)
	for range 10 {
		resp, err := c.Post("http://"+p.Addr()+"/", "text/plain", strings.NewReader("order 66"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST got %d, want 200 from the live pod", resp.StatusCode)
		}
	}
	if hits.Load() != 10 || m.retries.Load() == 0 {
		t.Fatalf("%d POSTs reached the live pod, %d retries; want 10 and some", hits.Load(), m.retries.Load())
	}
}

// TestForwardedHeaders checks what the pod receives, on both ways a request
// is written: the head alone for a bodyless GET or DELETE, Request.Write for
// a POST.
func TestForwardedHeaders(t *testing.T) {
	type seen struct {
		method, uri string
		header      http.Header
		body        string
	}
	p := startProxy(t, Options{})
	got := make(chan seen, 1)
	p.SetEndpoints([]Endpoint{backend(t, "echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		got <- seen{r.Method, r.RequestURI, h, string(b)}
	})})
	for _, tc := range []struct{ method, body string }{{"GET", ""}, {"DELETE", ""}, {"POST", "name=kubia"}} {
		t.Run(tc.method, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, _ := http.NewRequest(tc.method, "http://"+p.Addr()+"/path%2Fx?q=1&r=a+b", body)
			req.Host = "kubia.example"
			req.Header.Set("X-Forwarded-For", "6.6.6.6") // forged: replaced, as Rewrite does
			req.Header.Set("Forwarded", "for=6.6.6.6")
			req.Header.Set("Connection", "X-Secret")
			req.Header.Set("X-Secret", "hop-by-hop")
			req.Header.Set("X-Kept", "yes")
			req.Header.Add("X-Multi", "one")
			req.Header.Add("X-Multi", "two")
			req.Header.Set("Te", "trailers")
			resp, err := newClient(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			s := <-got
			if s.method != tc.method || s.uri != "/path%2Fx?q=1&r=a+b" || s.body != tc.body {
				t.Errorf("pod got %s %s with body %q, want %s /path%%2Fx?q=1&r=a+b with %q", s.method, s.uri, s.body, tc.method, tc.body)
			}
			h := s.header
			want := map[string]string{
				"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "kubia.example", "X-Forwarded-Proto": "http",
				"Host": "kubia.example", "X-Kept": "yes", "X-Secret": "", "Forwarded": "", "Connection": "",
				"User-Agent": "Go-http-client/1.1", "Te": "trailers",
			}
			for k, v := range want {
				if h.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
			if v := h.Values("X-Forwarded-For"); len(v) != 1 {
				t.Errorf("X-Forwarded-For = %q, want one value", v)
			}
			if v := h.Values("X-Multi"); len(v) != 2 || v[0] != "one" || v[1] != "two" {
				t.Errorf("X-Multi = %q, want [one two]", v)
			}
		})
	}
}

// TestHeadWithALineBreakInAValue: a Proxy mounted on a caller's server may
// be handed a value net/http would have refused; it must not become a
// second header line at the pod.
func TestHeadWithALineBreakInAValue(t *testing.T) {
	var buf strings.Builder
	bw := bufio.NewWriter(&buf)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header = http.Header{"X-Evil": {"a\r\nX-Injected: 1"}}
	writeHead(bw, r, "10.0.0.2:8080", "")
	bw.Flush()
	if strings.Contains(buf.String(), "\r\nX-Injected") {
		t.Fatalf("head carries an injected line:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "X-Evil: a  X-Injected: 1\r\n") {
		t.Fatalf("head lacks the sanitised value:\n%s", buf.String())
	}
}

func TestStreamedResponseIsFlushedAsItComes(t *testing.T) {
	p := startProxy(t, Options{})
	release := make(chan struct{})
	p.SetEndpoints([]Endpoint{backend(t, "stream", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "second\n")
	})})
	defer close(release)
	resp, err := newClient(t).Get("http://" + p.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
}

func TestSlowHeaderClientIsCutOff(t *testing.T) {
	// The head of a connection's first request, and of a later one on a
	// kept-alive connection, which is read under other deadlines.
	for _, first := range []bool{true, false} {
		t.Run(fmt.Sprintf("first=%v", first), func(t *testing.T) {
			p := startProxy(t, Options{ReadHeaderTimeout: 200 * time.Millisecond})
			p.SetEndpoints([]Endpoint{backend(t, "a", func(w http.ResponseWriter, r *http.Request) {})})
			conn, err := net.Dial("tcp", p.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(conn)
			if !first {
				io.WriteString(conn, "GET / HTTP/1.1\r\nHost: kubia\r\n\r\n")
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
			}
			io.WriteString(conn, "GET / HTTP/1.1\r\nHost: kubia\r\n") // and never the blank line
			start := time.Now()
			_, err = io.ReadAll(br)
			if err != nil {
				t.Fatalf("connection not closed by the server: %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("cut off after %s, want about 200ms", d)
			}
		})
	}
}

func TestStartOnATakenPortIsErrAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := New(Options{Service: "kubia", Listen: ln.Addr().String()})
	err = p.Start()
	if !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("Start() = %v, want ErrAddrInUse", err)
	}
	if msg := err.Error(); !strings.Contains(msg, ln.Addr().String()) || !strings.Contains(msg, "nodePort") {
		t.Fatalf("message %q should name the address and say to pick another nodePort", msg)
	}
}

type fakeMetrics struct {
	mu       sync.Mutex
	done     []string
	ready    []int
	gone     []string
	ejected  []string
	retries  atomic.Int64
	inFlight atomic.Int64
	maxIn    atomic.Int64
}

func (m *fakeMetrics) RequestDone(service string, ep Endpoint, method string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done = append(m.done, service+" "+ep.Pod+" "+ep.Revision+" "+method+" "+http.StatusText(code))
}
func (m *fakeMetrics) Retry(string, Endpoint) { m.retries.Add(1) }
func (m *fakeMetrics) Ejected(_ string, ep Endpoint) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ejected = append(m.ejected, ep.Pod)
}
func (m *fakeMetrics) InFlight(_ string, delta int) {
	if n := m.inFlight.Add(int64(delta)); n > m.maxIn.Load() {
		m.maxIn.Store(n)
	}
}
func (m *fakeMetrics) EndpointGone(service string, ep Endpoint) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gone = append(m.gone, service+" "+ep.Pod)
}
func (m *fakeMetrics) ReadyEndpoints(_ string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ready = append(m.ready, n)
}

func TestMetricsHooks(t *testing.T) {
	m := &fakeMetrics{}
	p := startProxy(t, Options{Metrics: m})
	c := newClient(t)
	get(t, c, p)
	p.SetEndpoints([]Endpoint{backend(t, "a", nil), backend(t, "b", nil)})
	get(t, c, p)
	p.SetEndpoints([]Endpoint{{Pod: "dead", Addr: deadAddr(t)}})
	get(t, c, p)

	m.mu.Lock()
	defer m.mu.Unlock()
	wantDone := []string{"kubia   GET Service Unavailable", "kubia a r1 GET OK", "kubia dead  GET Bad Gateway"}
	if strings.Join(m.done, "|") != strings.Join(wantDone, "|") {
		t.Errorf("RequestDone calls %q, want %q", m.done, wantDone)
	}
	if len(m.ready) != 2 || m.ready[0] != 2 || m.ready[1] != 1 {
		t.Errorf("ReadyEndpoints calls %v, want [2 1]", m.ready)
	}
	if m.inFlight.Load() != 0 || m.maxIn.Load() != 1 {
		t.Errorf("in flight %d (max %d), want 0 (max 1)", m.inFlight.Load(), m.maxIn.Load())
	}
}

// A pod that closes an idle keep-alive connection must not make the next
// request fail, even one with a body, which could not be retried.
func TestConnectionClosedByThePodWhileIdleIsNotUsed(t *testing.T) {
	p := startProxy(t, Options{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	srv.Config.IdleTimeout = 20 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	p.SetEndpoints([]Endpoint{{Pod: "a", Addr: srv.Listener.Addr().String()}})
	c := newClient(t)
	for i := range 3 {
		resp, err := c.Post("http://"+p.Addr()+"/", "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %d: %s", i, resp.Status)
		}
		time.Sleep(3 * recheckAfter / 2) // the pod closes the idle connection meanwhile
	}
}
