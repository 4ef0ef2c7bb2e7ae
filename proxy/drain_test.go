package proxy

import (
	"context"
	"errors"
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

// blockingBackend answers once release is closed, and signals each arrival.
func blockingBackend(t *testing.T) (ep Endpoint, arrived <-chan struct{}, release chan struct{}) {
	in := make(chan struct{}, 16)
	release = make(chan struct{})
	ep = backend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		in <- struct{}{}
		<-release
		io.WriteString(w, "done")
	})
	return ep, in, release
}

func TestDrainWaitsForTheRequestInFlight(t *testing.T) {
	p := startProxy(t, Options{})
	ep, arrived, release := blockingBackend(t)
	p.SetEndpoints([]Endpoint{ep})
	result := make(chan int, 1)
	go func() {
		resp, err := newClient(t).Get("http://" + p.Addr() + "/")
		if err != nil {
			result <- 0
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	<-arrived

	p.SetEndpoints(nil)
	drained := make(chan error, 1)
	go func() { drained <- p.Drain(context.Background(), ep.Addr) }()
	select {
	case err := <-drained:
		t.Fatalf("Drain returned %v while a request was in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-drained; err != nil {
		t.Fatalf("Drain() = %v", err)
	}
	if code := <-result; code != http.StatusOK {
		t.Fatalf("request in flight during the drain got %d", code)
	}
}

func TestDrainEndsWithCtx(t *testing.T) {
	p := startProxy(t, Options{})
	ep, arrived, release := blockingBackend(t)
	defer close(release)
	p.SetEndpoints([]Endpoint{ep})
	go func() {
		if resp, err := newClient(t).Get("http://" + p.Addr() + "/"); err == nil {
			resp.Body.Close()
		}
	}()
	<-arrived

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Drain(ctx, ep.Addr) // also takes ep out of the set
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 requests still in flight") {
		t.Fatalf("Drain() = %v, want a deadline error counting 1 request", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Drain took %s with a 100ms deadline", d)
	}
	if len(p.Endpoints()) != 0 {
		t.Fatalf("Drain left %v in the set", p.Endpoints())
	}
}

func TestDrainTimeoutCapsACtxWithoutDeadline(t *testing.T) {
	p := startProxy(t, Options{DrainTimeout: 100 * time.Millisecond})
	ep, arrived, release := blockingBackend(t)
	defer close(release)
	p.SetEndpoints([]Endpoint{ep})
	go func() {
		if resp, err := newClient(t).Get("http://" + p.Addr() + "/"); err == nil {
			resp.Body.Close()
		}
	}()
	<-arrived
	if err := p.Drain(context.Background(), ep.Addr); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain() = %v, want DeadlineExceeded after DrainTimeout", err)
	}
}

func TestDrainOfAnUnknownAddressReturnsAtOnce(t *testing.T) {
	p := startProxy(t, Options{})
	ep := backend(t, "a", nil)
	p.SetEndpoints([]Endpoint{ep})
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // any wait would fail
	if err := p.Drain(ctx, "10.0.0.1:8080"); err != nil {
		t.Fatalf("Drain(unknown) = %v", err)
	}
	if err := p.Drain(ctx, ep.Addr); err != nil { // idle: nothing to wait for
		t.Fatalf("Drain(idle) = %v", err)
	}
	if err := p.Drain(ctx, ep.Addr); err != nil { // already drained
		t.Fatalf("second Drain = %v", err)
	}
}

func TestDrainClosesIdleConnections(t *testing.T) {
	p := startProxy(t, Options{})
	var open atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	ep := Endpoint{Pod: "a", Addr: srv.Listener.Addr().String()}
	p.SetEndpoints([]Endpoint{ep})
	c := newClient(t)
	for range 3 {
		get(t, c, p)
	}
	if open.Load() == 0 {
		t.Fatal("the proxy kept no connection to the pod")
	}

	p.SetEndpoints(nil)
	if err := p.Drain(context.Background(), ep.Addr); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for open.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := open.Load(); n != 0 {
		t.Fatalf("%d connections to the drained pod still open", n)
	}
}

// TestSetEndpointsUnderLoad swaps between two sets of pods while clients
// hammer the proxy: any transport error or non-200 fails, POSTs included.
func TestSetEndpointsUnderLoad(t *testing.T) {
	p := startProxy(t, Options{})
	blue := []Endpoint{backend(t, "blue-1", nil), backend(t, "blue-2", nil)}
	green := []Endpoint{backend(t, "green-1", nil), backend(t, "green-2", nil), backend(t, "green-3", nil)}
	p.SetEndpoints(blue)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var ok atomic.Int64
	errs := make(chan error, 100)
	client := newClient(t)
	for i := range 8 {
		wg.Go(func() {
			for n := 0; n < 100_000 && ctx.Err() == nil; n++ {
				var resp *http.Response
				var err error
				if i%4 == 0 {
					resp, err = client.Post("http://"+p.Addr()+"/", "text/plain", strings.NewReader("payload"))
				} else {
					resp, err = client.Get("http://" + p.Addr() + "/")
				}
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- errors.New(resp.Status)
					return
				}
				ok.Add(1)
			}
		})
	}
	wg.Go(func() {
		sets := [][]Endpoint{green, blue}
		for i := 0; ctx.Err() == nil; i++ {
			p.SetEndpoints(sets[i%2])
			time.Sleep(5 * time.Millisecond)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ok.Load() < 100 {
		t.Fatalf("only %d requests succeeded", ok.Load())
	}
}

// TestNoRequestReachesAPodAfterItsDrain checks the drain handshake itself:
// once Drain returns, the pod is never sent another request, however the
// removal races with requests choosing it.
func TestNoRequestReachesAPodAfterItsDrain(t *testing.T) {
	p := startProxy(t, Options{})
	var hits atomic.Int64
	victim := backend(t, "victim", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "victim")
	})
	other := backend(t, "other", nil)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	client := newClient(t)
	for range 6 {
		wg.Go(func() {
			for n := 0; n < 100_000 && ctx.Err() == nil; n++ {
				resp, err := client.Get("http://" + p.Addr() + "/")
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	rounds := 0
	for ; ctx.Err() == nil && rounds < 200; rounds++ {
		p.SetEndpoints([]Endpoint{victim, other})
		time.Sleep(2 * time.Millisecond)
		p.SetEndpoints([]Endpoint{other})
		if err := p.Drain(context.Background(), victim.Addr); err != nil {
			t.Fatal(err)
		}
		before := hits.Load()
		time.Sleep(2 * time.Millisecond)
		if after := hits.Load(); after != before {
			t.Fatalf("round %d: the pod got %d requests after its drain returned", rounds, after-before)
		}
	}
	cancel()
	wg.Wait()
	if hits.Load() == 0 {
		t.Fatal("the victim never served: the test proves nothing")
	}
}

// TestClientThatLeavesLetsGoOfThePod: a client that gives up, while the pod
// has not answered or half-way through its body, must not leave the proxy
// waiting on the pod: the request ends, so Drain has nothing to wait for.
func TestClientThatLeavesLetsGoOfThePod(t *testing.T) {
	for _, stage := range []string{"headers", "body"} {
		t.Run(stage, func(t *testing.T) {
			p := startProxy(t, Options{})
			in := make(chan struct{}, 1)
			release := make(chan struct{})
			ep := backend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
				if stage == "body" {
					// A stream, so the proxy passes the first bytes on at once.
					io.WriteString(w, "the first bytes")
					w.(http.Flusher).Flush()
				}
				in <- struct{}{}
				<-release
			})
			defer close(release) // before the backend's cleanup waits for it
			p.SetEndpoints([]Endpoint{ep})

			ctx, cancel := context.WithCancel(context.Background())
			started, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.Addr()+"/", nil)
				resp, err := newClient(t).Do(req)
				if err != nil {
					return
				}
				if stage == "body" {
					// The proxy is copying the body: the client has part of it.
					io.ReadFull(resp.Body, make([]byte, len("the first bytes")))
					close(started)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}()
			<-in
			if stage == "body" {
				select {
				case <-started:
				case <-time.After(10 * time.Second):
					cancel()
					t.Fatal("the first bytes of a streamed body never reached the client")
				}
			}
			cancel()
			<-done
			dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer dcancel()
			if err := p.Drain(dctx, ep.Addr); err != nil {
				t.Fatalf("the proxy still holds the request after its client left: %v", err)
			}
		})
	}
}
