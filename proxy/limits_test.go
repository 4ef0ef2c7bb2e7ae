package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// No more than MaxConns client connections are served at once; the next one
// is served as soon as one of them closes.
func TestMaxConnsBoundsClientConnections(t *testing.T) {
	p := startProxy(t, Options{MaxConns: 2})
	p.SetEndpoints([]Endpoint{backend(t, "a", nil)})
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A request answered proves the connection is being served.
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	third := make(chan int, 1)
	go func() {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			third <- 0
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			third <- 0
			return
		}
		third <- resp.StatusCode
	}()
	select {
	case code := <-third:
		t.Fatalf("a third connection was served (%d) while two were held", code)
	case <-time.After(500 * time.Millisecond):
	}
	held[0].Close()
	if code := <-third; code != http.StatusOK {
		t.Fatalf("the third connection got %d after one closed, want 200", code)
	}
}

// A client that sends its headers and then stalls in its body holds a
// connection, and a connection to a pod, for BodyReadTimeout at most.
func TestStalledRequestBodyIsCutOff(t *testing.T) {
	p := startProxy(t, Options{BodyReadTimeout: 200 * time.Millisecond})
	p.SetEndpoints([]Endpoint{backend(t, "a", nil)})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the stalled body still held the connection after 15 s")
	}
	if err == nil && resp.StatusCode < 400 {
		t.Fatalf("a request whose body never came got %s", resp.Status)
	}
}

// A slow body that keeps coming is not cut off: the bound is per read.
func TestSlowButSteadyBodyGetsThrough(t *testing.T) {
	ep := backend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, strings.ToUpper(string(b)))
	})
	p := startProxy(t, Options{BodyReadTimeout: 300 * time.Millisecond})
	p.SetEndpoints([]Endpoint{ep})
	pr, pw := io.Pipe()
	go func() {
		for range 8 {
			pw.Write([]byte("ab"))
			time.Sleep(100 * time.Millisecond)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.Addr()+"/", pr)
	resp, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != strings.Repeat("AB", 8) {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
}

// A tunnel that carries nothing either way for TunnelIdleTimeout is closed;
// one that carries something keeps going.
func TestIdleTunnelIsClosed(t *testing.T) {
	ep, _ := echoPod(t)
	p := startProxy(t, Options{TunnelIdleTimeout: 300 * time.Millisecond})
	p.SetEndpoints([]Endpoint{ep})

	active, abr, resp := handshake(t, p, "echo")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	abr.ReadString('\n') // welcome
	_, ibr, _ := handshake(t, p, "echo")
	ibr.ReadString('\n')
	for range 10 {
		echoes(t, active, abr, "still here\n")
		time.Sleep(100 * time.Millisecond)
	}
	closedByProxy(t, ibr)
	echoes(t, active, abr, "and still\n")
}
