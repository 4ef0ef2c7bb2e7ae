package host

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/proxy"
)

// backend is a pod: it answers with its name.
func backend(t *testing.T, name string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serve runs h's Server on a socket in dir.
func serve(t *testing.T, h *Host, dir string, lost func([]string)) (*Server, string) {
	t.Helper()
	sock := filepath.Join(dir, "dp.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(h, nil, lost)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv, sock
}

func get(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), &statusError{resp.StatusCode}
	}
	return string(b), err
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }

// A State through the socket: the listener serves its endpoints; a second
// State without the pod sends it nothing more, and Drain returns; a State
// without the listener closes it.
func TestApplyAndDrainThroughTheSocket(t *testing.T) {
	a, b := backend(t, "a"), backend(t, "b")
	addr := freeAddr(t)
	h := New(Options{Version: "test"})
	t.Cleanup(func() { _ = h.Shutdown(context.Background()) })
	_, sock := serve(t, h, t.TempDir(), nil)
	c := NewClient(sock)
	defer c.Close()
	ctx := context.Background()
	l := Listener{Address: addr, Service: "kubia", Endpoints: []proxy.Endpoint{{Pod: "a", Addr: a}, {Pod: "b", Addr: b}}}
	st, err := c.Apply(ctx, State{Listeners: []Listener{l}})
	if err != nil || st.Version != "test" || len(st.Failed) != 0 {
		t.Fatalf("apply: %+v %v", st, err)
	}
	seen := map[string]bool{}
	for range 10 {
		body, err := get("http://" + addr)
		if err != nil {
			t.Fatal(err)
		}
		seen[body] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Fatalf("answers from %v, want both pods", seen)
	}
	l.Endpoints = l.Endpoints[1:]
	if _, err := c.Apply(ctx, State{Listeners: []Listener{l}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Drain(ctx, []string{a}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if body, err := get("http://" + addr); err != nil || body != "b" {
			t.Fatalf("after a left: %q %v", body, err)
		}
	}
	cur, err := c.Current(ctx)
	if err != nil || len(cur.Listeners) != 1 || len(cur.Listeners[0].Endpoints) != 1 {
		t.Fatalf("current: %+v %v", cur, err)
	}
	// A port another program holds is reported, not fatal.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	st, err = c.Apply(ctx, State{Listeners: []Listener{{Address: busy.Addr().String(), Service: "other"}}})
	if err != nil || st.Failed[busy.Addr().String()] == "" {
		t.Fatalf("apply on a busy port: %+v %v", st, err)
	}
	if _, err := get("http://" + addr); err == nil {
		t.Fatal("the listener left out of the State still answers")
	}
}

// The handoff under load: a second Host takes the first one's listening
// socket over while clients send requests without pause, on new connections
// and on keep-alive ones (GETs and POSTs, which no client sends twice); none
// fails, the old Host finishes, and the new one serves with the old one's
// endpoints.
func TestHandoffLosesNoRequest(t *testing.T) {
	a := backend(t, "a")
	addr := freeAddr(t)
	old := New(Options{Version: "v1"})
	t.Cleanup(func() { _ = old.Shutdown(context.Background()) })
	srv, sock := serve(t, old, t.TempDir(), nil)
	if _, err := old.Apply(context.Background(), State{Listeners: []Listener{{Address: addr, Service: "kubia", Endpoints: []proxy.Endpoint{{Pod: "a", Addr: a}}}}}); err != nil {
		t.Fatal(err)
	}

	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			tr := &http.Transport{DisableKeepAlives: i < 2}
			defer tr.CloseIdleConnections()
			cl := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			for n := 0; n < 5000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var resp *http.Response
				var err error
				if i == 3 && n%2 == 1 {
					resp, err = cl.Post("http://"+addr, "text/plain", strings.NewReader("order"))
				} else {
					resp, err = cl.Get("http://" + addr)
				}
				if err != nil {
					failed.Add(1)
					t.Logf("request failed: %v", err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lns, st, commit, err := Takeover(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	if len(lns) != 1 || lns[addr] == nil || len(st.Listeners) != 1 || st.Listeners[0].Endpoints[0].Addr != a {
		t.Fatalf("took over %v with %+v", lns, st)
	}
	// Frozen: the control plane is sent to the new process.
	if _, err := old.Apply(ctx, st); err != ErrHandedOff {
		t.Fatalf("apply on the frozen host: %v, want ErrHandedOff", err)
	}
	next := New(Options{Version: "v2", Inherited: lns})
	t.Cleanup(func() { _ = next.Shutdown(context.Background()) })
	if s, err := next.Apply(ctx, st); err != nil || len(s.Failed) != 0 {
		t.Fatalf("serve the inherited socket: %+v %v", s, err)
	}
	if err := commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.Done():
	case <-ctx.Done():
		t.Fatal("the old data plane never finished after the handoff")
	}
	if srv.Reason() != "handoff" {
		t.Fatalf("reason %q", srv.Reason())
	}
	// As the data plane command does: clients told to leave, then a grace.
	old.CloseKeepAlives()
	time.Sleep(AcceptGrace)
	if err := old.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // requests served by the new host alone
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("%d requests ok, %d failed across the handoff", ok.Load(), failed.Load())
	}
	t.Logf("handoff: %d requests, 0 failed", ok.Load())
}

// A session that ends without "bye" is a crashed control plane: the data
// plane is told, with its command line. One that says bye is not.
func TestSessionTellsACrashFromAGoodbye(t *testing.T) {
	h := New(Options{})
	lost := make(chan []string, 2)
	_, sock := serve(t, h, t.TempDir(), func(argv []string) { lost <- argv })
	c := NewClient(sock)
	defer c.Close()
	ctx := context.Background()

	s, err := c.OpenSession(ctx, []string{"mini-deploy", "daemon"})
	if err != nil {
		t.Fatal(err)
	}
	s.Bye()
	select {
	case argv := <-lost:
		t.Fatalf("a goodbye taken for a crash: %v", argv)
	case <-time.After(300 * time.Millisecond):
	}

	s, err = c.OpenSession(ctx, []string{"mini-deploy", "daemon", "--home", "x"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case argv := <-lost:
		if len(argv) != 4 || argv[3] != "x" {
			t.Fatalf("crash reported with %v", argv)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a session that broke was not reported as a crash")
	}
	info, err := c.Info(ctx)
	if err != nil || len(info.ControlPlane) != 4 {
		t.Fatalf("info: %+v %v", info, err)
	}
}
