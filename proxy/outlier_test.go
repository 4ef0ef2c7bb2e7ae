package proxy

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A pod that refuses connections is ejected at its first failure: the
// requests after it go straight to the live pod, with no retry needed.
func TestDeadPodIsEjectedAtOnce(t *testing.T) {
	m := &fakeMetrics{}
	p := startProxy(t, Options{Metrics: m})
	p.SetEndpoints([]Endpoint{{Pod: "dead", Addr: deadAddr(t)}, backend(t, "live", nil)})
	c := newClient(t)
	for range 20 {
		if code, body := get(t, c, p); code != http.StatusOK || body != "live" {
			t.Fatalf("got %d %q", code, body)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.ejected) != 1 || m.ejected[0] != "dead" || m.retries.Load() != 1 {
		t.Fatalf("ejected %v with %d retries; want the dead pod once, after one retry", m.ejected, m.retries.Load())
	}
}

// A pod that does not answer within the response header timeout (hung, or
// frozen by docker pause) is ejected: one request waits for it, the next
// ones do not.
func TestHungPodIsEjected(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var hung atomic.Int64
	slow := backend(t, "hung", func(w http.ResponseWriter, r *http.Request) {
		hung.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	p := startProxy(t, Options{ResponseHeaderTimeout: 200 * time.Millisecond})
	p.SetEndpoints([]Endpoint{slow, backend(t, "live", nil)})
	c := newClient(t)
	start := time.Now()
	for i := range 20 {
		// A GET the hung pod took is sent to the live one after the timeout.
		if code, body := get(t, c, p); code != http.StatusOK || body != "live" {
			t.Fatalf("GET %d: %d %q, want 200 from the live pod", i, code, body)
		}
	}
	if n := hung.Load(); n != 1 {
		t.Fatalf("the hung pod got %d requests, want 1 (then ejected)", n)
	}
	t.Logf("20 GETs in %v with one hung pod", time.Since(start).Round(time.Millisecond))
}

// An ejection ends: the pod is tried again, and one success ends the
// streak. When every pod is ejected, requests still go to one.
func TestEjectedPodComesBack(t *testing.T) {
	p := startProxy(t, Options{})
	ep := backend(t, "a", nil)
	p.SetEndpoints([]Endpoint{ep})
	tg := p.lb.targets()[0]
	p.eject(tg, nil)
	c := newClient(t)
	if code, body := get(t, c, p); code != http.StatusOK || body != "a" {
		t.Fatalf("the only pod, ejected: got %d %q, want it tried anyway", code, body)
	}
	if tg.ejections.Load() != 0 || tg.ejectedUntil.Load() != 0 {
		t.Fatal("a success did not end the ejection")
	}
	// Back-off: each ejection in a row lasts longer, up to ejectMax.
	var last int64
	for range 10 {
		p.eject(tg, nil)
		d := tg.ejectedUntil.Load() - nanotime()
		if d < last-int64(50*time.Millisecond) || d > int64(ejectMax) {
			t.Fatalf("ejection of %v after one of %v", time.Duration(d), time.Duration(last))
		}
		last = d
	}
}

// A pod whose ejection ran out is on probation: POSTs, which could not be
// sent elsewhere if it still hangs, go to the other pods; a GET probes it,
// and its success ends the probation.
func TestProbationTakesOnlySafeRequests(t *testing.T) {
	var posts atomic.Int64
	recovering := backend(t, "recovering", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		io.WriteString(w, "recovering")
	})
	p := startProxy(t, Options{})
	p.SetEndpoints([]Endpoint{recovering, backend(t, "other", nil)})
	var tg *target
	for _, x := range p.lb.targets() {
		if x.ep.Pod == "recovering" {
			tg = x
		}
	}
	p.eject(tg, nil)
	tg.ejectedUntil.Store(nanotime() - 1) // the ejection ran out
	c := newClient(t)
	for i := range 20 {
		if code := send(t, c, p, http.MethodPost, nil); code != http.StatusOK {
			t.Fatalf("POST %d: %d", i, code)
		}
	}
	if n := posts.Load(); n != 0 {
		t.Fatalf("the pod on probation got %d POSTs, want none", n)
	}
	for range 20 {
		if _, body := get(t, c, p); body == "recovering" {
			break
		}
	}
	if tg.ejectedUntil.Load() != 0 {
		t.Fatal("no GET probed the pod on probation, or its success did not end the probation")
	}
	for range 20 {
		send(t, c, p, http.MethodPost, nil)
	}
	if posts.Load() == 0 {
		t.Fatal("the pod back in rotation got no POST")
	}
}
