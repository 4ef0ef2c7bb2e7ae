package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// resetAfterReading is a pod that reads a whole request, so it may have
// acted on it, then resets the connection without answering.
func resetAfterReading(t *testing.T, hits *atomic.Int64) Endpoint {
	return backend(t, "reset", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
	})
}

func send(t *testing.T, c *http.Client, p *Proxy, method string, header http.Header) int {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+p.Addr()+"/orders/42/pay", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// A bodyless request that is not idempotent reached a pod that then died:
// it is not replayed on another pod, whatever the error.
func TestBodylessNonIdempotentRequestIsNotReplayed(t *testing.T) {
	for _, method := range []string{http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete, "PURGE"} {
		t.Run(method, func(t *testing.T) {
			m := &fakeMetrics{}
			p := startProxy(t, Options{Metrics: m})
			var resets, lives atomic.Int64
			live := backend(t, "live", func(w http.ResponseWriter, r *http.Request) { lives.Add(1) })
			p.SetEndpoints([]Endpoint{resetAfterReading(t, &resets), live})
			c := newClient(t)
			failed := 0
			for range 10 {
				if code := send(t, c, p, method, nil); code == http.StatusBadGateway {
					failed++
				} else if code != http.StatusOK {
					t.Fatalf("%s got %d", method, code)
				}
			}
			if got := resets.Load() + lives.Load(); got != 10 {
				t.Errorf("pods saw %d requests for 10 sent: a request was replayed", got)
			}
			if failed != int(resets.Load()) || m.retries.Load() != 0 {
				t.Errorf("%d failed, %d reached the resetting pod, %d retries; want the same two and 0",
					failed, resets.Load(), m.retries.Load())
			}
		})
	}
}

// GET, HEAD, OPTIONS and TRACE, and any request with an idempotency key, are
// sent to another pod when the first one died before answering.
func TestIdempotentRequestIsRetriedAfterTheRequestWasWritten(t *testing.T) {
	cases := []struct {
		method string
		header http.Header
	}{
		{http.MethodGet, nil},
		{http.MethodHead, nil},
		{http.MethodOptions, nil},
		{http.MethodTrace, nil},
		{http.MethodPost, http.Header{"Idempotency-Key": {"8e03978e-40d5"}}},
		{http.MethodPost, http.Header{"X-Idempotency-Key": {"8e03978e-40d6"}}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.method, len(tc.header)), func(t *testing.T) {
			m := &fakeMetrics{}
			p := startProxy(t, Options{Metrics: m})
			var resets, lives atomic.Int64
			live := backend(t, "live", func(w http.ResponseWriter, r *http.Request) { lives.Add(1) })
			p.SetEndpoints([]Endpoint{resetAfterReading(t, &resets), live})
			c := newClient(t)
			for range 10 {
				if code := send(t, c, p, tc.method, tc.header); code != http.StatusOK {
					t.Fatalf("%s got %d, want a retry on the live pod", tc.method, code)
				}
			}
			if lives.Load() != 10 || m.retries.Load() != resets.Load() || resets.Load() == 0 {
				t.Errorf("live pod saw %d of 10, %d retries for %d resets", lives.Load(), m.retries.Load(), resets.Load())
			}
		})
	}
}

// A pooled connection the pod closed while it sat idle, an instant before
// reuse, takes no request that may not be sent twice: the proxy looks before
// it writes, and dials again.
func TestPostIsNotWrittenOnAConnectionThePodJustClosed(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "ok")
	}))
	srv.Config.IdleTimeout = 5 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	p := startProxy(t, Options{})
	p.SetEndpoints([]Endpoint{{Pod: "a", Addr: srv.Listener.Addr().String()}})
	c := newClient(t)
	for i := range 5 {
		if code := send(t, c, p, http.MethodPost, nil); code != http.StatusOK {
			t.Fatalf("POST %d: %d", i, code)
		}
		// Closed by the pod meanwhile, and idle for less than recheckAfter:
		// only the look before a non-idempotent write sees it.
		time.Sleep(recheckAfter / 4)
	}
	if hits.Load() != 5 {
		t.Fatalf("pod saw %d POSTs, want 5", hits.Load())
	}
}

func TestCanRetry(t *testing.T) {
	dial := &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}
	reset := &net.OpError{Op: "read", Err: syscall.ECONNRESET}
	timeout := &net.OpError{Op: "read", Err: timeoutErr{}}
	get := outgoing{retryable: true, idempotent: true}
	post := outgoing{retryable: true}
	postWithBody := outgoing{}
	cases := []struct {
		o    outgoing
		err  error
		want bool
	}{
		{post, dial, true},
		{postWithBody, dial, true},
		{post, &attemptError{reset}, true},    // not a byte written
		{post, &attemptError{timeout}, false}, // still a timeout
		{post, reset, false},
		{post, io.EOF, false},
		{get, reset, true},
		{get, io.EOF, true},
		{get, io.ErrUnexpectedEOF, true},
		{get, timeout, true},                // no headers in time: sent elsewhere
		{get, &attemptError{timeout}, true}, // idempotent: whatever the pod saw
		{postWithBody, timeout, false},
		{get, errors.New("malformed HTTP response"), false},
	}
	for i, tc := range cases {
		if got := canRetry(tc.o, tc.err); got != tc.want {
			t.Errorf("case %d: canRetry(%+v, %v) = %v, want %v", i, tc.o, tc.err, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// A client inventing methods cannot grow what the metrics keep: every method
// outside the standard ones is counted as one.
func TestInventedMethodsAreCountedAsOne(t *testing.T) {
	m := &fakeMetrics{}
	p := startProxy(t, Options{Metrics: m})
	p.SetEndpoints([]Endpoint{backend(t, "a", nil)})
	c := newClient(t)
	for i := range 20 {
		send(t, c, p, fmt.Sprintf("X%064d", i), nil)
	}
	send(t, c, p, "PATCH", nil)
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]int{}
	for _, d := range m.done {
		seen[d]++
	}
	if len(seen) != 2 || seen["kubia a r1 OTHER OK"] != 20 || seen["kubia a r1 PATCH OK"] != 1 {
		t.Fatalf("RequestDone saw %v, want 20 OTHER and 1 PATCH", seen)
	}
}

// An endpoint that leaves the set is forgotten by the metrics once its last
// request is counted, and not before.
func TestEndpointGoneAfterItsLastRequestIsCounted(t *testing.T) {
	m := &fakeMetrics{}
	p := startProxy(t, Options{Metrics: m})
	ep, arrived, release := blockingBackend(t)
	p.SetEndpoints([]Endpoint{ep})
	c := newClient(t)
	done := make(chan int)
	go func() {
		resp, err := c.Get("http://" + p.Addr() + "/")
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-arrived
	p.SetEndpoints(nil)
	m.mu.Lock()
	early := len(m.gone)
	m.mu.Unlock()
	if early != 0 {
		t.Fatalf("endpoint forgotten with a request in flight")
	}
	close(release)
	if code := <-done; code != http.StatusOK {
		t.Fatalf("request in flight got %d", code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		m.mu.Lock()
		gone, counted := len(m.gone), len(m.done)
		m.mu.Unlock()
		if gone == 1 {
			if counted != 1 {
				t.Fatalf("forgotten before its request was counted (%d counted)", counted)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("EndpointGone never called")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A second removal of nothing forgets nothing more.
	p.SetEndpoints(nil)
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.gone) != 1 || m.gone[0] != "kubia "+ep.Pod {
		t.Fatalf("EndpointGone calls %q", m.gone)
	}
}
