package proxy

import (
	"bufio"
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// verdictCorpus is raw client input on which the proxy's own server and
// net/http's must agree: valid requests, malformed ones, and the framings a
// request could be smuggled through.
var verdictCorpus = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a?b=c HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\nHEAD /h HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST /pay HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab\r\n\r\nGET /after-crlf HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n",
	"GET / HTTP/1.1\nHost: a\n\nGET /second HTTP/1.1\nHost: a\n\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /again HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /not-read HTTP/1.1\r\nHost: a\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET http://evil/ HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET http://evil/ HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost:\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
	"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
	"GET / HTTP/0.9\r\n\r\n",
	"GET /\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"CONNECT a:443 HTTP/1.1\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
	"POST / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\nok",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("x", 3000) + "\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("x", 8000) + "\r\n\r\n",
	"garbage\r\n\r\n",
	"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n",
}

// quiet is how long exchange waits for one more response. Fuzzing waits
// less, to try more inputs a second.
var quiet = 300 * time.Millisecond

// exchange sends data on one connection to addr and returns the status of
// every response read back, until the server closes the connection or stays
// quiet.
func exchange(t *testing.T, addr string, data string) []int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(data))
	br := bufio.NewReader(c)
	var codes []int
	for {
		c.SetReadDeadline(time.Now().Add(quiet))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return codes
		}
		codes = append(codes, resp.StatusCode)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// TestServerVerdicts feeds each raw input to the proxy on net/http's server
// and on its own, and requires the same statuses back and the same requests
// at the pod.
func TestServerVerdicts(t *testing.T) {
	for i, data := range verdictCorpus {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			newVerdicts(t).compare(t, data)
		})
	}
}

// FuzzServerVerdicts is TestServerVerdicts on any input: go test -fuzz
// FuzzServerVerdicts ./proxy/ looks for one on which the two servers
// disagree, or on which a request reaches the pod that net/http's server
// would not have passed on.
func FuzzServerVerdicts(f *testing.F) {
	for _, data := range verdictCorpus[:6] {
		f.Add([]byte(data))
	}
	v := newVerdicts(f)
	if fl := flag.Lookup("test.fuzz"); fl != nil && fl.Value.String() != "" {
		quiet = 50 * time.Millisecond
	}
	f.Fuzz(func(t *testing.T, data []byte) { v.compare(t, string(data)) })
}

// verdicts is two proxies, one on net/http's server and one on the proxy's
// own, each with a pod of its own, so that a request one passes on late is
// not counted against the other.
type verdicts struct {
	refPod, ownPod *seen
	ref, own       *Proxy
}

func newVerdicts(tb testing.TB) *verdicts {
	v := &verdicts{refPod: new(seen), ownPod: new(seen)}
	opts := Options{Service: "verdicts", Listen: "127.0.0.1:0", ReadHeaderTimeout: time.Second, BodyReadTimeout: time.Second, MaxHeaderBytes: 2048}
	for _, std := range []bool{true, false} {
		o := opts
		o.StdlibServer = std
		p := New(o)
		if err := p.Start(); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			p.Shutdown(ctx)
		})
		pod := v.ownPod
		if std {
			v.ref, pod = p, v.refPod
		} else {
			v.own = p
		}
		srv := recordingPod(pod)
		tb.Cleanup(srv.Close)
		p.SetEndpoints([]Endpoint{{Pod: "echo", Addr: srv.Listener.Addr().String()}})
	}
	return v
}

func (v *verdicts) compare(t *testing.T, data string) {
	t.Helper()
	v.refPod.take()
	v.ownPod.take()
	want := exchange(t, v.ref.Addr(), data)
	wantPod := v.refPod.take()
	got := exchange(t, v.own.Addr(), data)
	gotPod := v.ownPod.take()
	slices.Sort(wantPod)
	slices.Sort(gotPod)
	// After a request body it could not read (a bad chunk size), net/http's
	// server reads on and answers what follows with 400; the proxy's own
	// closes the connection at once. That last 400 is the one difference
	// allowed.
	if len(got) > 0 && len(got) < len(want) && slices.Equal(got, want[:len(got)]) &&
		!slices.ContainsFunc(want[len(got):], func(code int) bool { return code != http.StatusBadRequest }) {
		want = want[:len(got)]
	}
	if !slices.Equal(got, want) || !slices.Equal(gotPod, wantPod) {
		t.Errorf("%q:\n net/http's server: statuses %v, the pod got %q\n the proxy's own:   statuses %v, the pod got %q",
			data, want, wantPod, got, gotPod)
	}
}

// TestServerFramesResponses checks how the proxy's own server frames what a
// pod sends: a stream of unknown length in chunks with its trailers for an
// HTTP/1.1 client, up to the connection's close for an HTTP/1.0 one, and a
// HEAD answer without a body.
func TestServerFramesResponses(t *testing.T) {
	ep := backend(t, "stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		for _, part := range []string{"one ", "two ", "three"} {
			io.WriteString(w, part)
			w.(http.Flusher).Flush()
		}
		w.Header().Set("X-Sum", "3")
	})
	p := startProxy(t, Options{})
	p.SetEndpoints([]Endpoint{ep})

	resp, err := newClient(t).Get("http://" + p.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "one two three" || resp.TransferEncoding == nil || resp.Trailer.Get("X-Sum") != "3" {
		t.Fatalf("HTTP/1.1: body %q (%v), transfer encoding %v, trailer %v; want the stream in chunks with X-Sum: 3",
			body, err, resp.TransferEncoding, resp.Trailer)
	}

	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	all, err := io.ReadAll(c) // to the close: that is where the body ends
	if err != nil {
		t.Fatal(err)
	}
	head, rest, _ := strings.Cut(string(all), "\r\n\r\n")
	if !strings.Contains(head, "Connection: close") || strings.Contains(head, "chunked") || rest != "one two three" {
		t.Fatalf("HTTP/1.0: got %q; want the body as is, ended by the connection's close", all)
	}

	req, _ := http.NewRequest(http.MethodHead, "http://"+p.Addr()+"/", nil)
	resp, err = newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD: %d", resp.StatusCode)
	}
}

// TestServerShutdown: Shutdown closes a connection waiting for a request at
// once, lets a request under way finish with Connection: close, and returns
// when it has.
func TestServerShutdown(t *testing.T) {
	ep, arrived, release := blockingBackend(t)
	p := New(Options{Service: "kubia", Listen: "127.0.0.1:0"})
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	p.SetEndpoints([]Endpoint{ep})

	idle, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	io.WriteString(busy, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	<-arrived

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- p.Shutdown(ctx)
	}()
	idle.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection during Shutdown: read %d, %v; want EOF", n, err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request under way", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Fatalf("request under way at Shutdown: %d, close %v; want 200 with Connection: close", resp.StatusCode, resp.Close)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}
}

// TestServerUnreadBody: a request answered without its body being read (no
// pod to send it to) is answered at once; the body is then read away to keep
// the connection, unless the client was still waiting for 100 Continue.
func TestServerUnreadBody(t *testing.T) {
	p := startProxy(t, Options{})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	read := func() *http.Response {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}

	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
	if resp := read(); resp.StatusCode != http.StatusServiceUnavailable || resp.Close {
		t.Fatalf("POST with no endpoint: %d, close %v; want 503 on a connection kept", resp.StatusCode, resp.Close)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp := read(); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("the next request on that connection: %d; want 503 again", resp.StatusCode)
	}

	start := time.Now()
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	read() // without the body: the answer must not wait for it
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("a client waiting for 100 Continue got its answer after %s", waited)
	}
	if n, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after a body never sent: read %v, %v; want the connection closed", n, err)
	}
}

// TestServerWatchOutlastsIdleTimeout: a request that runs longer than the
// connection's idle timeout still has its client watched; when the client
// hangs up, the pod's connection is let go.
func TestServerWatchOutlastsIdleTimeout(t *testing.T) {
	gone := make(chan struct{})
	ep := backend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fast" {
			return
		}
		select {
		case <-r.Context().Done(): // the proxy closed the pod's connection
			close(gone)
		case <-time.After(10 * time.Second):
		}
	})
	p := startProxy(t, Options{IdleTimeout: 100 * time.Millisecond})
	p.SetEndpoints([]Endpoint{ep})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	// A first request, so that the second is read after an idle wait.
	io.WriteString(c, "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(400 * time.Millisecond) // past the idle timeout and watchAfter
	c.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the client hung up, and the pod's request went on")
	}
}
