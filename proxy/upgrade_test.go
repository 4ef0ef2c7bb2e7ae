package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// echoPod switches to the "echo" protocol when asked: it answers 101, says
// "welcome" in the same write, then sends every line back. Asked for
// "decline", it answers an ordinary 200. seen receives the handshake's
// headers.
func echoPod(t *testing.T) (Endpoint, <-chan http.Header) {
	t.Helper()
	seen := make(chan http.Header, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		seen <- h
		if r.Header.Get("Upgrade") != "echo" {
			io.WriteString(w, "no switch")
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\nX-Pod: a\r\n\r\nwelcome\n")
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			brw.WriteString(line)
			brw.Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return Endpoint{Pod: "a", Addr: srv.Listener.Addr().String()}, seen
}

// handshake opens a raw connection to the proxy and asks to switch to proto.
func handshake(t *testing.T, p *Proxy, proto string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET /chat HTTP/1.1\r\nHost: kubia.example\r\nConnection: keep-alive, Upgrade\r\nUpgrade: "+proto+"\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	return conn, br, resp
}

func echoes(t *testing.T, conn net.Conn, br *bufio.Reader, line string) {
	t.Helper()
	if _, err := io.WriteString(conn, line); err != nil {
		t.Fatal(err)
	}
	got, err := br.ReadString('\n')
	if err != nil || got != line {
		t.Fatalf("through the tunnel: sent %q, got %q (%v)", line, got, err)
	}
}

func closedByProxy(t *testing.T, br *bufio.Reader) {
	t.Helper()
	if b, err := br.ReadByte(); err == nil {
		t.Fatalf("tunnel still open: read %q", b)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("tunnel still open after 10s")
	}
}

func TestUpgradeOpensATunnelToThePod(t *testing.T) {
	p := startProxy(t, Options{})
	ep, seen := echoPod(t)
	p.SetEndpoints([]Endpoint{ep})
	conn, br, resp := handshake(t, p, "echo")
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "echo" ||
		!namedIn(resp.Header["Connection"], "upgrade") || resp.Header.Get("X-Pod") != "a" {
		t.Fatalf("handshake answer: %s %v", resp.Status, resp.Header)
	}
	h := <-seen
	if h.Get("Upgrade") != "echo" || !namedIn(h["Connection"], "upgrade") || namedIn(h["Connection"], "keep-alive") ||
		h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("Host") != "kubia.example" {
		t.Errorf("the pod got the handshake with %v", h)
	}
	// Bytes the pod sent right behind its 101 come first.
	if got, err := br.ReadString('\n'); got != "welcome\n" {
		t.Fatalf("first line %q (%v), want welcome", got, err)
	}
	echoes(t, conn, br, "hello\n")
	echoes(t, conn, br, "again\n")
}

func TestDeclinedUpgradeIsAnOrdinaryResponse(t *testing.T) {
	p := startProxy(t, Options{})
	ep, seen := echoPod(t)
	p.SetEndpoints([]Endpoint{ep})
	_, _, resp := handshake(t, p, "decline")
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != "no switch" {
		t.Fatalf("declined upgrade: %s %q", resp.Status, b)
	}
	if h := <-seen; h.Get("Upgrade") != "decline" {
		t.Errorf("the pod got Upgrade %q", h.Get("Upgrade"))
	}
}

func TestPlainRequestDoesNotCarryUpgrade(t *testing.T) {
	p := startProxy(t, Options{})
	ep, seen := echoPod(t)
	p.SetEndpoints([]Endpoint{ep})
	req, _ := http.NewRequest("GET", "http://"+p.Addr()+"/", nil)
	req.Header.Set("Upgrade", "echo") // without Connection: Upgrade it asks nothing
	resp, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "no switch" {
		t.Errorf("got %q", b)
	}
	if h := <-seen; h.Get("Upgrade") != "" {
		t.Errorf("hop-by-hop Upgrade reached the pod: %q", h.Get("Upgrade"))
	}
}

// A pod that only leaves the endpoint set keeps its tunnels; Drain, which
// comes before the pod is stopped, closes them.
func TestTunnelOutlivesRemovalAndEndsWithDrain(t *testing.T) {
	p := startProxy(t, Options{})
	ep, _ := echoPod(t)
	p.SetEndpoints([]Endpoint{ep})
	conn, br, _ := handshake(t, p, "echo")
	br.ReadString('\n') // welcome
	p.SetEndpoints(nil)
	echoes(t, conn, br, "still here\n")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Drain(ctx, ep.Addr); err != nil {
		t.Fatalf("Drain waited for the tunnel: %v", err)
	}
	closedByProxy(t, br)
}

func TestShutdownClosesTunnels(t *testing.T) {
	p := startProxy(t, Options{})
	ep, _ := echoPod(t)
	p.SetEndpoints([]Endpoint{ep})
	_, br, _ := handshake(t, p, "echo")
	br.ReadString('\n') // welcome
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	closedByProxy(t, br)
}

// A client that closes its end closes the pod's too.
func TestTunnelEndsWhenTheClientLeaves(t *testing.T) {
	p := startProxy(t, Options{})
	ep, _ := echoPod(t)
	p.SetEndpoints([]Endpoint{ep})
	conn, br, _ := handshake(t, p, "echo")
	br.ReadString('\n') // welcome
	conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		n := len(p.tunnels)
		p.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d tunnels left 10s after the client closed", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUpgradeToTheWrongProtocolIsABadGateway(t *testing.T) {
	p := startProxy(t, Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, _ := http.NewResponseController(w).Hijack()
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: other\r\n\r\n")
		brw.Flush()
	}))
	t.Cleanup(srv.Close)
	p.SetEndpoints([]Endpoint{{Pod: "odd", Addr: srv.Listener.Addr().String()}})
	_, _, resp := handshake(t, p, "echo")
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(b), "kubia") {
		t.Fatalf("got %s %q, want 502 naming the service", resp.Status, b)
	}
}
