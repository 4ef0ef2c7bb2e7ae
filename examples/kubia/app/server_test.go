package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

func TestHandlerAnswersEveryPath(t *testing.T) {
	h := newHandler("v2", "kubia-v2-g6rvw", 0)
	for _, path := range []string{"/", "/anything", "/a/b?c=d"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", path, rec.Code)
		}
		if got, want := rec.Body.String(), "This is v2 running in pod kubia-v2-g6rvw\n"; got != want {
			t.Errorf("GET %s: body %q, want %q", path, got, want)
		}
		if got := rec.Header().Get("X-Pod"); got != "kubia-v2-g6rvw" {
			t.Errorf("GET %s: X-Pod %q", path, got)
		}
		if got := rec.Header().Get("X-Version"); got != "v2" {
			t.Errorf("GET %s: X-Version %q", path, got)
		}
	}
}

func TestHandlerWebSocketGreetsAndEchoes(t *testing.T) {
	srv := httptest.NewServer(newHandler("v2", "kubia-v2-abcde", time.Hour))
	defer srv.Close()
	// An origin the server has never heard of: it checks none.
	c, err := websocket.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", "", "http://elsewhere.example/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var msg string
	if err := websocket.Message.Receive(c, &msg); err != nil || msg != "This is v2 running in pod kubia-v2-abcde\n" {
		t.Fatalf("greeting %q (%v)", msg, err)
	}
	for _, m := range []string{"ping 1", "ping 2"} {
		if err := websocket.Message.Send(c, m); err != nil {
			t.Fatal(err)
		}
		if err := websocket.Message.Receive(c, &msg); err != nil || msg != m {
			t.Fatalf("sent %q, got %q (%v)", m, msg, err)
		}
	}
}

func TestHandlerHealthz(t *testing.T) {
	// The response delay must not slow the readiness probe down.
	h := newHandler("v1", "pod", time.Hour)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Fatalf("GET /healthz: %d %q, want 200 \"ok\\n\"", rec.Code, rec.Body.String())
	}
}

func TestHandlerResponseDelay(t *testing.T) {
	h := newHandler("v1", "pod", 100*time.Millisecond)
	start := time.Now()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("answered after %v, want at least 100ms", d)
	}
	if rec.Body.String() != "This is v1 running in pod pod\n" {
		t.Fatalf("body %q", rec.Body.String())
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	cfg, err := configFromEnv(env(nil))
	if err != nil || cfg != (config{Port: "8080"}) {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	cfg, err = configFromEnv(env(map[string]string{
		"PORT": "9090", "KUBIA_START_DELAY": "2s", "KUBIA_RESPONSE_DELAY": "150ms",
	}))
	want := config{Port: "9090", StartDelay: 2 * time.Second, ResponseDelay: 150 * time.Millisecond}
	if err != nil || cfg != want {
		t.Fatalf("got %+v, %v; want %+v", cfg, err, want)
	}
	for _, bad := range []map[string]string{
		{"KUBIA_START_DELAY": "soon"},
		{"KUBIA_RESPONSE_DELAY": "-1s"},
	} {
		if _, err := configFromEnv(env(bad)); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// startServer runs serve on 127.0.0.1 and returns its base URL, the function
// that plays SIGTERM, a channel with serve's result and one that receives a
// value each time a request reaches the handler.
func startServer(t *testing.T, responseDelay, shutdownTimeout time.Duration) (string, context.CancelFunc, <-chan error, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	arrived := make(chan struct{}, 16)
	h := newHandler("v1", "kubia-test", responseDelay)
	hooked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		h.ServeHTTP(w, r)
	})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- serve(ctx, ln, hooked, shutdownTimeout, logger) }()
	return "http://" + ln.Addr().String(), cancel, done, arrived
}

func waitDone(t *testing.T, done <-chan error, within time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("server still running %v after shutdown began", within)
		return nil
	}
}

func TestServeStopsQuicklyWhenIdle(t *testing.T) {
	url, stop, done, _ := startServer(t, 0, DefaultShutdownTimeout)
	// An idle keep-alive connection must not hold the shutdown up.
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	start := time.Now()
	stop()
	// Held up by the idle connection, it would wait out the 25 s shutdown
	// timeout; the bound is far from both that and a busy CI machine.
	if err := waitDone(t, done, 5*time.Second); err != nil {
		t.Fatalf("serve: %v", err)
	}
	t.Logf("idle shutdown took %v", time.Since(start))
	if _, err := http.Get(url + "/"); err == nil {
		t.Fatal("server still accepts connections after shutdown")
	}
}

func TestServeFinishesInFlightRequests(t *testing.T) {
	const delay = 300 * time.Millisecond
	url, stop, done, arrived := startServer(t, delay, DefaultShutdownTimeout)

	type result struct {
		body string
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Get(url + "/")
		if err != nil {
			inflight <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		inflight <- result{string(b), err}
	}()
	<-arrived
	stop()

	select {
	case err := <-done:
		t.Fatalf("serve returned (%v) before the in-flight request finished", err)
	case <-time.After(delay / 3):
	}
	r := <-inflight
	if r.err != nil {
		t.Fatalf("in-flight request failed: %v", r.err)
	}
	if r.body != "This is v1 running in pod kubia-test\n" {
		t.Fatalf("in-flight request body %q", r.body)
	}
	if err := waitDone(t, done, time.Second); err != nil {
		t.Fatalf("serve: %v", err)
	}
}

func TestServeGivesUpAtTheDeadline(t *testing.T) {
	url, stop, done, arrived := startServer(t, time.Hour, 200*time.Millisecond)
	go func() {
		if resp, err := http.Get(url + "/"); err == nil {
			resp.Body.Close()
		}
	}()
	<-arrived
	stop()
	if err := waitDone(t, done, 2*time.Second); !errors.Is(err, errDrainDeadline) {
		t.Fatalf("serve: %v, want %v", err, errDrainDeadline)
	}
}
