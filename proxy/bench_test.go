package proxy

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"testing"
)

// BenchmarkServeHTTP measures the forwarding path alone: ServeHTTP called
// directly, a reused ResponseWriter, and a pod that answers a fixed response
// without parsing, so that allocs/op and ns/op are the proxy's own. make
// bench measures the whole thing over real sockets against nginx.
//
//	go test -run '^$' -bench ServeHTTP -benchmem ./proxy/
func BenchmarkServeHTTP(b *testing.B) {
	p := New(Options{Service: "bench"})
	p.SetEndpoints([]Endpoint{{Pod: "kubia-1", Addr: fixedPod(b)}})
	r, err := http.NewRequest(http.MethodGet, "/", nil)
	if err != nil {
		b.Fatal(err)
	}
	r.Host = "127.0.0.1:30080"
	r.RemoteAddr = "127.0.0.1:51234"
	r.Header.Set("User-Agent", "curl/7.88.1")
	r.Header.Set("Accept", "*/*")
	w := &discardWriter{h: make(http.Header)}

	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.code = 0
		p.ServeHTTP(w, r)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

// fixedPod listens on loopback and answers every request on a connection
// with the same response, reading only as far as the end of the headers.
func fixedPod(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 41\r\n\r\nThis is v1 running in pod kubia-v1-abcde\n")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadSlice('\n')
					if err != nil {
						return
					}
					if bytes.Equal(line, []byte("\r\n")) {
						if _, err := c.Write(resp); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *discardWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(b), nil
}

// BenchmarkServer measures a request through a real client connection: the
// proxy's own server and net/http's, each in front of ServeHTTP. allocs/op
// counts every goroutine's allocations, the raw client's and the pod's
// (none a request) included.
//
//	go test -run '^$' -bench Server -benchmem ./proxy/
func BenchmarkServer(b *testing.B) {
	for _, tc := range []struct {
		name string
		std  bool
	}{{"own", false}, {"net-http", true}} {
		b.Run(tc.name, func(b *testing.B) {
			p := New(Options{Service: "bench", Listen: "127.0.0.1:0", StdlibServer: tc.std})
			if err := p.Start(); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { p.Shutdown(context.Background()) })
			p.SetEndpoints([]Endpoint{{Pod: "kubia-1", Addr: fixedPod(b)}})
			c, err := net.Dial("tcp", p.Addr())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1:30080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n")
			br := bufio.NewReader(c)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				// The head, then the 41 bytes its Content-Length says.
				for {
					line, err := br.ReadSlice('\n')
					if err != nil {
						b.Fatal(err)
					}
					if len(line) == 2 {
						break
					}
				}
				if _, err := br.Discard(41); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
