package proxy

// server.go is the proxy's own HTTP/1.1 server: the loop that reads a
// client's requests off its connection and hands each to ServeHTTP. It does
// what net/http's server does for the proxy with less work a request
// (BenchmarkServer: 23 allocations against 32; make bench: 0.89x the CPU),
// because it leaves out what a reverse proxy does not need:
//
//   - net/http reads ahead on every connection while its handler runs, to
//     notice a client that leaves; that is a goroutine, a failed read and two
//     deadline changes a request. Here the connection is watched only once a
//     request has waited watchAfter for its answer, which almost none do.
//   - net/http builds a fresh response, header map and context for each
//     request; here they live as long as the connection.
//
// The parsing is the standard library's: http.ReadRequest reads each request,
// and the checks net/http's server adds after it (protocol version, Host,
// header names and values, Expect, the header size limit) are made here in
// the same order with the same answers. TestServerVerdicts feeds the same
// raw requests, the smuggling shapes among them, to both servers and requires
// the same statuses and the same requests at the pod; FuzzServerVerdicts does
// it on any input. Options.StdlibServer serves with net/http's server instead.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// watchAfter is how long a request waits for its answer before the proxy
// starts watching the client's connection for a hang-up. A client that
// leaves sooner is noticed when its answer is written.
const watchAfter = 50 * time.Millisecond

// maxUnreadBody bounds what the server reads and throws away of a request
// body the handler left unread, to keep the connection (net/http's figure).
const maxUnreadBody = 256 << 10

// server serves HTTP/1.1 on a listener with the Proxy as its handler.
type server struct {
	p        *Proxy
	ln       net.Listener
	ctx      context.Context // the parent of every connection's context
	cancel   context.CancelFunc
	shutting atomic.Bool

	mu    sync.Mutex
	conns map[*serverConn]struct{}
}

func newServer(p *Proxy, ln net.Listener) *server {
	ctx, cancel := context.WithCancel(context.Background())
	return &server{p: p, ln: ln, ctx: ctx, cancel: cancel, conns: make(map[*serverConn]struct{})}
}

// serve accepts until the listener is closed.
func (s *server) serve() error {
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				// Out of file descriptors or a transient failure: wait and
				// try again, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.p.log.Warn("accept failed; retrying", slog.Any("error", err), slog.Duration("in", backoff))
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := s.newConn(nc)
		if c == nil {
			nc.Close()
			continue
		}
		go c.serve()
	}
}

func (s *server) newConn(nc net.Conn) *serverConn {
	c := &serverConn{s: s, nc: nc, remote: nc.RemoteAddr().String()}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	c.cr.nc = nc
	c.cr.limit = noLimit
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting.Load() {
		return nil
	}
	s.conns[c] = struct{}{}
	return c
}

func (s *server) forget(c *serverConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// shutdown closes the listener and the idle connections, then waits until
// every connection has finished its request and closed, or ctx ends.
func (s *server) shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	err := s.ln.Close()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() {
			s.cancel()
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// closeIdle closes the connections waiting for a request and reports
// whether none is left.
func (s *server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(connIdle, connClosed) {
			c.nc.Close()
		}
	}
	return len(s.conns) == 0
}

// A connection's state: idle between requests, active from a request's first
// byte to the end of its answer. Shutdown closes only idle ones.
const (
	connIdle int32 = iota
	connActive
	connClosed
)

// serverConn is one client connection.
type serverConn struct {
	s      *server
	nc     net.Conn
	remote string
	ctx    context.Context // ends when the client hangs up or the server stops
	cancel context.CancelFunc
	state  atomic.Int32

	cr connReader
	br *bufio.Reader
	bw *bufio.Writer
	w  response

	// lastPOST: the previous request was a POST, after which stray CRLFs are
	// skipped (RFC 9112 section 2.2, for old clients).
	lastPOST bool
	hijacked bool

	// The watch on the client while a request waits for its answer.
	watchMu    sync.Mutex
	watchTimer *time.Timer
	watchState int // watchOff, watchArmed, watchOn
	watchDone  chan struct{}
	gone       atomic.Bool // the client hung up
}

const (
	watchOff = iota
	watchArmed
	watchOn
)

var (
	readerPool sync.Pool
	writerPool sync.Pool
)

func (c *serverConn) serve() {
	defer func() {
		c.s.forget(c)
		if c.watchTimer != nil {
			c.watchTimer.Stop()
		}
		c.cancel()
		if !c.hijacked {
			c.nc.Close()
			if c.br != nil {
				c.br.Reset(nil)
				readerPool.Put(c.br)
			}
			if c.bw != nil {
				c.bw.Reset(nil)
				writerPool.Put(c.bw)
			}
		}
	}()
	if br, ok := readerPool.Get().(*bufio.Reader); ok {
		br.Reset(&c.cr)
		c.br = br
	} else {
		c.br = bufio.NewReaderSize(&c.cr, 4<<10)
	}
	if bw, ok := writerPool.Get().(*bufio.Writer); ok {
		bw.Reset(c.nc)
		c.bw = bw
	} else {
		c.bw = bufio.NewWriterSize(c.nc, 4<<10)
	}
	c.w.c = c
	c.w.header = make(http.Header)
	opts := &c.s.p.opts
	first := true
	for {
		// The head of the next request may be MaxHeaderBytes long, plus
		// net/http's slack for the request line; what is buffered counts.
		c.cr.limit = int64(opts.MaxHeaderBytes) + 4096 - int64(c.br.Buffered())
		// Wait for the start of the next request, idle: Shutdown may close
		// the connection meanwhile. Between requests that is 4 bytes, as
		// net/http's server waits for: fewer, and no more coming, is not a
		// request worth a 400.
		if first {
			c.nc.SetReadDeadline(time.Now().Add(opts.ReadHeaderTimeout))
			if _, err := c.br.Peek(1); err != nil {
				return
			}
		} else if c.br.Buffered() < 4 {
			c.nc.SetReadDeadline(time.Now().Add(opts.IdleTimeout))
			if _, err := c.br.Peek(4); err != nil {
				return
			}
		}
		if !c.state.CompareAndSwap(connIdle, connActive) || c.s.shutting.Load() {
			return
		}
		first = false
		if !c.serveOne() {
			return
		}
		if c.s.shutting.Load() || !c.state.CompareAndSwap(connActive, connIdle) {
			return
		}
	}
}

// serveOne reads one request and answers it; it reports whether the
// connection can carry another.
func (c *serverConn) serveOne() bool {
	opts := &c.s.p.opts
	// The head must be in within ReadHeaderTimeout. The wait for it
	// usually read all of it; the deadline is set only if ReadRequest has
	// to read more (connReader.Read), which saves two deadline changes a
	// request. The deadline of the wait is left as it is: nothing reads
	// the connection while the handler runs but the body's reads, which
	// set their own (stallGuard), and the watch, which clears it.
	c.cr.headBy = time.Now().Add(opts.ReadHeaderTimeout)
	c.cr.headPending = true
	if c.lastPOST {
		peek, _ := c.br.Peek(4)
		c.br.Discard(leadingCRLF(peek))
	}
	// The bytes of the head are kept for checkRequest: ReadRequest keeps
	// no trace of the Host header it took req.Host from.
	buffered, _ := c.br.Peek(c.br.Buffered())
	c.cr.head = append(c.cr.head[:0], buffered...)
	c.cr.record = true
	req, err := http.ReadRequest(c.br)
	c.cr.record, c.cr.headPending = false, false
	if err != nil {
		c.badRequest(err)
		return false
	}
	c.cr.limit = noLimit
	err = checkRequest(req, c.cr.head)
	if cap(c.cr.head) > 8<<10 {
		c.cr.head = nil // a large head is not kept for the connection's life
	}
	if err != nil {
		c.badRequest(err)
		return false
	}
	c.lastPOST = req.Method == http.MethodPost
	if c.cr.headSet {
		c.nc.SetReadDeadline(time.Time{})
		c.cr.headSet = false
	}

	w := &c.w
	w.reset(req)
	body := &w.body
	body.ReadCloser = req.Body
	body.c = c
	body.eof = req.Body == http.NoBody
	if expect := req.Header.Get("Expect"); expect != "" {
		if !hasToken(expect, "100-continue") {
			c.writeError(http.StatusExpectationFailed, "")
			return false
		}
		body.sendContinue = req.ProtoAtLeast(1, 1) && req.ContentLength != 0
	}
	if !body.eof {
		req.Body = body
	}
	req.RemoteAddr = c.remote
	req = req.WithContext(c.ctx)
	w.req = req
	if body.eof {
		c.armWatch()
	}

	if req.Method == "PRI" && req.Proto == "HTTP/2.0" {
		w.closeAfter = true // what follows the preface is not HTTP/1
	}
	if !c.handle(w, req) {
		return false
	}
	if c.hijacked {
		return false
	}
	if body.sendContinue {
		// The client waits for a 100 Continue it will not get: its body
		// never comes, and the connection cannot carry another request.
		w.closeAfter = true
	}
	if err := w.finish(); err != nil || w.closeAfter || c.gone.Load() {
		return false
	}
	if !body.eof {
		// The handler left some of the body unread (it was answered
		// without a pod): read a little of it away, once the answer is
		// out, to keep the connection, or give the connection up.
		c.nc.SetReadDeadline(time.Now().Add(opts.ReadHeaderTimeout))
		n, err := io.CopyN(io.Discard, body.ReadCloser, maxUnreadBody+1)
		if n > maxUnreadBody || (err != nil && err != io.EOF) {
			return false
		}
	}
	return true
}

// handle runs the handler; it reports false when the connection must be
// dropped at once, without finishing the answer.
func (c *serverConn) handle(w *response, req *http.Request) (ok bool) {
	defer func() {
		c.stopWatch()
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				c.s.p.log.Error("panic serving request", slog.String("remote", c.remote), slog.Any("panic", v))
			}
			ok = false
		}
	}()
	c.s.p.ServeHTTP(w, req)
	return true
}

// badRequest answers a request that could not be read, as net/http's server
// answers it, or says nothing when the connection itself failed.
func (c *serverConn) badRequest(err error) {
	var se statusError
	switch {
	case c.cr.limit <= 0:
		c.writeError(http.StatusRequestHeaderFieldsTooLarge, "")
	case fmt.Sprintf("%T", err) == "*http.unsupportedTEError":
		// ReadRequest's own type for a transfer coding it cannot read.
		c.writeErrorBody(http.StatusNotImplemented, "Unsupported transfer encoding")
	case errors.As(err, &se):
		c.writeError(se.code, se.text)
	case isCommonNetReadError(err):
	default:
		c.writeError(http.StatusBadRequest, "")
	}
}

func (c *serverConn) writeError(code int, text string) {
	status := strconv.Itoa(code) + " " + http.StatusText(code)
	if text != "" {
		status += ": " + text
	}
	c.writeErrorStatus(status, status)
}

func (c *serverConn) writeErrorBody(code int, body string) {
	c.writeErrorStatus(strconv.Itoa(code)+" "+http.StatusText(code), body)
}

func (c *serverConn) writeErrorStatus(status, body string) {
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	c.bw.WriteString("HTTP/1.1 " + status + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" + body)
	c.bw.Flush()
}

// statusError is a request refused with a status other than 400.
type statusError struct {
	code int
	text string
}

func (e statusError) Error() string { return http.StatusText(e.code) + ": " + e.text }

// checkRequest makes the checks net/http's server makes on a request
// ReadRequest accepted; head holds the bytes the request was read from.
func checkRequest(req *http.Request, head []byte) error {
	if req.ProtoMajor != 1 && !(req.ProtoMajor == 2 && req.ProtoMinor == 0 && req.Method == "PRI" && req.RequestURI == "*") {
		return statusError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}
	}
	hosts := hostHeader(req, head)
	isH2Upgrade := req.Method == "PRI" && len(req.Header) == 0 && req.URL.Path == "*" && req.Proto == "HTTP/2.0"
	if req.ProtoAtLeast(1, 1) && len(hosts) == 0 && !isH2Upgrade && req.Method != http.MethodConnect {
		return errors.New("missing required Host header")
	}
	if len(hosts) == 1 && !httpguts.ValidHostHeader(hosts[0]) {
		return errors.New("malformed Host header")
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return errors.New("invalid header name")
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return errors.New("invalid header value")
			}
		}
	}
	return nil
}

// hostHeader returns the values of the request's Host header. ReadRequest
// set req.Host from the header unless the request line named a host, and
// dropped the header: when req.Host came from the header it is its only
// value (ReadRequest refuses two); otherwise the head is read again, which
// only a request in absolute form or with an empty Host costs.
func hostHeader(req *http.Request, head []byte) []string {
	if req.URL.Host == "" && req.Host != "" {
		return []string{req.Host}
	}
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(head)))
	if _, err := tp.ReadLine(); err != nil {
		return nil
	}
	h, _ := tp.ReadMIMEHeader()
	return h["Host"]
}

func isCommonNetReadError(err error) bool {
	if err == io.EOF {
		return true
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return true
	}
	if oe, ok := err.(*net.OpError); ok && oe.Op == "read" {
		return true
	}
	return false
}

func leadingCRLF(b []byte) int {
	n := 0
	for _, c := range b {
		if c != '\r' && c != '\n' {
			break
		}
		n++
	}
	return n
}

// armWatch starts the clock on the request's wait: once it has waited
// watchAfter, the client's connection is watched for a hang-up.
func (c *serverConn) armWatch() {
	c.watchMu.Lock()
	c.watchState = watchArmed
	c.watchMu.Unlock()
	if c.watchTimer == nil {
		c.watchTimer = time.AfterFunc(watchAfter, c.watch)
	} else {
		c.watchTimer.Reset(watchAfter)
	}
}

// watch reads the client's connection until the answer is done (stopWatch
// interrupts the read) or the client hangs up, which ends the connection's
// context: the pod's connection is then aborted and the request counted as
// the client's (499). A byte read is the start of the client's next
// request, kept for the reader.
func (c *serverConn) watch() {
	c.watchMu.Lock()
	if c.watchState != watchArmed {
		c.watchMu.Unlock()
		return
	}
	c.watchState = watchOn
	done := make(chan struct{})
	c.watchDone = done
	// Under the lock, so that stopWatch's deadline comes after: the one
	// left from the wait for the request must not end the watch.
	c.nc.SetReadDeadline(time.Time{})
	c.watchMu.Unlock()
	defer close(done)
	n, err := c.nc.Read(c.cr.byteBuf[:])
	if n == 1 {
		c.cr.hasByte = true
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return // stopWatch interrupted the read
	}
	c.gone.Store(true)
	c.cancel()
}

// stopWatch ends the watch of the current request, waiting for a read under
// way to stop.
func (c *serverConn) stopWatch() {
	if c.watchTimer == nil {
		return
	}
	c.watchTimer.Stop()
	c.watchMu.Lock()
	state, done := c.watchState, c.watchDone
	c.watchState, c.watchDone = watchOff, nil
	c.watchMu.Unlock()
	if state == watchOn {
		c.nc.SetReadDeadline(aLongTimeAgo)
		<-done
		c.nc.SetReadDeadline(time.Time{})
	}
}

const noLimit = 1<<63 - 1

// connReader is what the connection's bufio.Reader reads: the connection,
// less the byte the watch read, and bounded while a request's head is read,
// when what it reads is also kept in head.
type connReader struct {
	nc      net.Conn
	limit   int64
	hasByte bool
	byteBuf [1]byte
	record  bool
	head    []byte

	headBy      time.Time // the deadline of the head being read
	headPending bool      // set it before the next read
	headSet     bool      // it was set: clear it once the head is read
}

func (r *connReader) Read(p []byte) (int, error) {
	if r.limit <= 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > r.limit {
		p = p[:r.limit]
	}
	if r.headPending {
		r.nc.SetReadDeadline(r.headBy)
		r.headPending, r.headSet = false, true
	}
	var n int
	var err error
	if r.hasByte {
		p[0] = r.byteBuf[0]
		r.hasByte = false
		n = 1
	} else {
		n, err = r.nc.Read(p)
	}
	r.limit -= int64(n)
	if r.record {
		r.head = append(r.head, p[:n]...)
	}
	return n, err
}

// requestBody is a request's body as the handler reads it: it sends 100
// Continue before the first read when the client waits for it, and starts
// the watch on the client once the body is read.
type requestBody struct {
	io.ReadCloser
	c            *serverConn
	eof          bool
	sendContinue bool
}

func (b *requestBody) Read(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	if b.sendContinue {
		b.sendContinue = false
		b.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if err := b.c.bw.Flush(); err != nil {
			return 0, err
		}
	}
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof = true
		b.c.armWatch()
	}
	return n, err
}

// response is the http.ResponseWriter of one request; a connection reuses
// one for all its requests.
type response struct {
	c      *serverConn
	req    *http.Request
	body   requestBody
	header http.Header

	wroteHeader bool
	status      int
	noBody      bool  // HEAD, 1xx, 204, 304: the body is not sent
	length      int64 // the declared Content-Length, or -1
	written     int64
	chunked     bool
	closeAfter  bool // the connection closes after this answer
	err         error
}

func (w *response) reset(req *http.Request) {
	clear(w.header)
	*w = response{c: w.c, header: w.header, req: req}
	w.closeAfter = req.Close || hasToken(req.Header.Get("Connection"), "close") ||
		(req.ProtoMajor == 1 && req.ProtoMinor == 0 && !hasToken(req.Header.Get("Connection"), "keep-alive"))
}

func (w *response) Header() http.Header { return w.header }

// WriteHeader writes the status line and the header into the connection's
// buffer; the first flush sends them.
func (w *response) WriteHeader(code int) {
	if w.wroteHeader || w.c.hijacked {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	w.wroteHeader = true
	w.status = code
	h := w.header
	bw := w.c.bw
	p := w.c.s.p

	w.length = -1
	if cl := h["Content-Length"]; len(cl) == 1 {
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil && n >= 0 {
			w.length = n
		} else {
			delete(h, "Content-Length")
		}
	} else if len(cl) > 1 {
		delete(h, "Content-Length")
	}
	w.noBody = w.req.Method == http.MethodHead || !bodyAllowedForStatus(code)
	if !w.noBody && w.length < 0 {
		if w.req.ProtoAtLeast(1, 1) {
			w.chunked = true
		} else {
			w.closeAfter = true // the end of the body is the end of the connection
		}
	}
	if code == http.StatusNoContent || (code >= 100 && code < 200) {
		delete(h, "Content-Length")
		delete(h, "Transfer-Encoding")
	}
	if p.lastResponses.Load() || w.c.s.shutting.Load() || hasToken(h.Get("Connection"), "close") {
		w.closeAfter = true
	}

	bw.WriteString("HTTP/1.1 ")
	if text := http.StatusText(code); text != "" {
		bw.WriteString(strconv.Itoa(code))
		bw.WriteByte(' ')
		bw.WriteString(text)
	} else {
		bw.WriteString(strconv.Itoa(code))
		bw.WriteString(" status code ")
		bw.WriteString(strconv.Itoa(code))
	}
	bw.WriteString("\r\n")
	for k, vv := range h {
		if k == "Connection" || k == "Transfer-Encoding" || strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		for _, v := range vv {
			writeField(bw, k, v)
		}
	}
	if _, ok := h["Date"]; !ok {
		bw.WriteString("Date: ")
		bw.Write(httpDate())
		bw.WriteString("\r\n")
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case w.closeAfter:
		bw.WriteString("Connection: close\r\n")
	case w.req.ProtoMajor == 1 && w.req.ProtoMinor == 0:
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
}

func (w *response) Write(b []byte) (int, error) {
	if w.c.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(b) == 0 {
		return 0, nil
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			return len(b), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.length >= 0 && w.written+int64(len(b)) > w.length {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(b))
	bw := w.c.bw
	if w.chunked {
		var size [16]byte
		bw.Write(strconv.AppendInt(size[:0], int64(len(b)), 16))
		bw.WriteString("\r\n")
		bw.Write(b)
		_, err := bw.WriteString("\r\n")
		if err != nil {
			w.err = err
			return 0, err
		}
		return len(b), nil
	}
	n, err := bw.Write(b)
	if err != nil {
		w.err = err
	}
	return n, err
}

// Flush sends what is buffered, the header included.
func (w *response) Flush() {
	if w.c.hijacked {
		return
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if err := w.c.bw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

// SetReadDeadline is what http.ResponseController calls to bound the reads
// of a request body.
func (w *response) SetReadDeadline(t time.Time) error { return w.c.nc.SetReadDeadline(t) }

// SetWriteDeadline bounds the writes of the answer.
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.nc.SetWriteDeadline(t) }

// Hijack hands the connection to the caller, with what is buffered either
// way; the server forgets it.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.wroteHeader {
		return nil, nil, errors.New("proxy: Hijack after the header was written")
	}
	w.c.stopWatch()
	w.c.nc.SetReadDeadline(time.Time{}) // the tunnel's reads have their own rules
	w.c.hijacked = true
	w.c.s.forget(w.c)
	return w.c.nc, bufio.NewReadWriter(w.c.br, w.c.bw), nil
}

// finish completes the answer after the handler returned: the status if it
// wrote nothing, the last chunk and trailers, and one flush for all of it.
func (w *response) finish() error {
	if !w.wroteHeader {
		if w.length < 0 && len(w.header["Content-Length"]) == 0 && w.req.Method != http.MethodHead {
			w.header["Content-Length"] = zeroLength
		}
		w.WriteHeader(http.StatusOK)
	}
	bw := w.c.bw
	if w.chunked {
		bw.WriteString("0\r\n")
		for k, vv := range w.header {
			if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
				for _, v := range vv {
					writeField(bw, name, v)
				}
			}
		}
		bw.WriteString("\r\n")
	}
	if w.length >= 0 && !w.noBody && w.written < w.length {
		// The body is shorter than its Content-Length: the client can
		// only tell by the connection closing.
		w.closeAfter = true
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return w.err
}

var zeroLength = []string{"0"}

func bodyAllowedForStatus(status int) bool {
	return !(status >= 100 && status <= 199 || status == http.StatusNoContent || status == http.StatusNotModified)
}

// The Date header, formatted once a second.
var dateCache atomic.Pointer[dateValue]

type dateValue struct {
	sec int64
	b   []byte
}

func httpDate() []byte {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.sec == now.Unix() {
		return d.b
	}
	d := &dateValue{sec: now.Unix(), b: now.UTC().AppendFormat(nil, http.TimeFormat)}
	dateCache.Store(d)
	return d.b
}
