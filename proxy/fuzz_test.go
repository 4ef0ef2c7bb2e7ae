package proxy

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// seen is a multiset of requests, as "METHOD URI sha256(body)".
type seen struct {
	mu   sync.Mutex
	reqs []string
}

func (s *seen) add(r *http.Request, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, fmt.Sprintf("%s %s %x", r.Method, r.URL.RequestURI(), sha256.Sum256(body)))
}

func (s *seen) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.reqs
	s.reqs = nil
	return out
}

// FuzzProxyRequest sends raw bytes to the proxy as a client would and checks
// what reaches the pod: never a request the proxy's own server did not
// parse (a request smuggled inside another's body or headers), never one
// request twice, and never a panic.
func FuzzProxyRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /pay HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		// The classic smuggling shapes: both framings, a chunked body
		// hiding a request, an obsolete line folding, a bare LF.
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n",
		"GET / HTTP/1.1\nHost: a\n\nGET /second HTTP/1.1\nHost: a\n\n",
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://evil/ HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	var front seen
	var frontBusy atomic.Int32 // the front's handlers under way
	p := New(Options{Service: "fuzz", ReadHeaderTimeout: time.Second, BodyReadTimeout: time.Second})
	// The proxy behind a server of the test's own, which records what it
	// parsed: the requests the pod may see, each at most once.
	fsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		frontBusy.Add(1)
		defer frontBusy.Add(-1)
		tee := &teeBody{ReadCloser: r.Body}
		r.Body = tee
		if r.ContentLength == 0 && len(r.TransferEncoding) == 0 {
			r.Body = http.NoBody
		}
		p.ServeHTTP(w, r)
		front.add(r, tee.buf)
	}))
	f.Cleanup(fsrv.Close)
	f.Fuzz(func(t *testing.T, data []byte) {
		// A pod of this input's own: a request the proxy passed on late
		// (its client had left) cannot be counted against the next input.
		var pod seen
		srv := recordingPod(&pod)
		p.SetEndpoints([]Endpoint{{Pod: "a", Addr: srv.Listener.Addr().String()}})
		front.take()
		c, err := net.Dial("tcp", fsrv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, bufio.NewReader(c))
		c.Close()
		// Every request the pod got is in once its server has closed,
		// which waits for its handlers; every one the proxy parsed once
		// the front's handlers have returned.
		p.SetEndpoints(nil)
		srv.Close()
		for deadline := time.Now().Add(5 * time.Second); frontBusy.Load() > 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		fr, pr := front.take(), pod.take()
		for _, r := range pr {
			i := slices.Index(fr, r)
			if i < 0 {
				t.Fatalf("the pod got %q, which the proxy never parsed (it parsed %q)", r, fr)
			}
			fr = slices.Delete(fr, i, i+1) // each at most once
		}
	})
}

// recordingPod is a pod that adds each request it reads whole to s and
// answers "ok". A body cut short (the client left, and the proxy let go of
// the pod) is no request: the pod fails reading it, and records nothing.
func recordingPod(s *seen) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		s.add(r, b)
		io.WriteString(w, "ok")
	}))
}

// teeBody keeps what the proxy reads of a request body.
type teeBody struct {
	io.ReadCloser
	buf []byte
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.buf = append(b.buf, p[:n]...)
	return n, err
}
