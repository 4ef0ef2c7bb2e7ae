package proxy

// forward.go is one request's way through the proxy, from ServeHTTP to the
// pod and back: the choice of a pod, the retry rules, the head written to the
// pod, the response and its body. It is over 500 lines because it is read as
// one story; splitting it would put the retry rules away from the code they
// govern.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"
)

// ServeHTTP forwards r to an endpoint, retrying on another one when the
// request is safe to send again.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var start time.Time
	code := 0
	var served Endpoint
	var cur *target // the attempt under way; released after it is counted
	if p.lastResponses.Load() {
		w.Header().Set("Connection", "close")
	}
	if p.metrics != nil {
		start = time.Now()
		p.metrics.InFlight(p.opts.Service, 1)
	}
	// Deferred so that a response aborted half-way (panic with
	// http.ErrAbortHandler) is still counted. The endpoint is released only
	// after its request is counted: once released, a removed endpoint may be
	// forgotten, metrics included, and must not come back.
	defer func() {
		if p.metrics != nil {
			p.metrics.InFlight(p.opts.Service, -1)
			p.metrics.RequestDone(p.opts.Service, served, MethodLabel(r.Method), code, time.Since(start))
		}
		if cur != nil {
			cur.release()
		}
	}()

	var guard *stallGuard
	if r.Body != nil && r.Body != http.NoBody {
		guard = &stallGuard{body: r.Body, rc: http.NewResponseController(w), timeout: p.opts.BodyReadTimeout}
		r.Body = guard
	}
	// Only a request without a body can be sent twice: the body of the first
	// attempt has been consumed. Whether it may be, once written, depends on
	// its method (canRetry).
	o := outgoing{
		retryable:  r.Body == nil || r.Body == http.NoBody,
		idempotent: idempotent(r),
		upgrade:    upgradeTo(r),
	}
	// Most requests take the short way: their head is written straight to
	// the pod. The rest (a body, trailers, CONNECT) go through Request.Write,
	// which frames a body by its length or in chunks.
	if !headOnly(r, o.retryable) {
		o.header = outgoingHeader(r, o.upgrade)
	}
	var triedBuf [8]*target
	tried := triedBuf[:0]
	var lastErr error
	for {
		// Only a first attempt probes a pod on probation: a retry, which
		// has waited once already, goes to the pods known to answer.
		t := p.lb.acquire(tried, o.retryable && o.idempotent && len(tried) == 0)
		if t == nil {
			if lastErr == nil {
				code = http.StatusServiceUnavailable
				http.Error(w, p.noEndpoints, code)
				return
			}
			code = p.fail(w, r, lastErr)
			return
		}
		tried = append(tried, t)
		served, cur = t.ep, t
		c, err := p.forward(w, r, o, t)
		if err == nil {
			t.healthy()
			code = c
			return
		}
		lastErr = err
		if r.Context().Err() == nil && outlierFailure(err) && !(guard != nil && guard.stalled) {
			p.eject(t, err)
		}
		if guard != nil && guard.stalled {
			// The client stopped sending its body; nginx answers 408.
			code = http.StatusRequestTimeout
			w.Header().Set("Connection", "close")
			http.Error(w, "request body timed out: no byte for "+p.opts.BodyReadTimeout.String(), code)
			return
		}
		if r.Context().Err() != nil {
			// The client is gone; nobody is waiting for an answer. 499 is
			// nginx's code for it, so the metrics tell it from a pod's error.
			code = 499
			return
		}
		if !canRetry(o, err) || len(tried) >= p.opts.MaxTries {
			code = p.fail(w, r, err)
			return
		}
		cur = nil
		t.release()
		p.log.LogAttrs(r.Context(), slog.LevelDebug, "retrying request on another endpoint",
			slog.String("pod", t.ep.Pod), slog.String("addr", t.ep.Addr), slog.Any("error", err))
		if p.metrics != nil {
			p.metrics.Retry(p.opts.Service, t.ep)
		}
	}
}

// outgoing is what every attempt of one request sends.
type outgoing struct {
	header     http.Header // for Request.Write; nil: writeHead writes the head
	retryable  bool        // no body: the request can be sent again
	idempotent bool        // sending it twice does what sending it once does
	upgrade    string      // the protocol the client asks to switch to, if any
}

// attemptError is a failed attempt that never reached the pod: not a byte of
// the request was written on the connection, so the pod cannot have acted on
// it, whatever the method.
type attemptError struct{ err error }

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// forward makes one attempt on t. It returns an error only when no response
// byte has reached the client, so the caller may still answer or retry. The
// caller releases t.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, o outgoing, t *target) (int, error) {
	var out *http.Request
	if o.header != nil {
		out = new(http.Request)
		*out = *r // the URL is shared: Write only reads it
		out.Header = o.header
		out.Close = false
		if out.Host == "" {
			out.Host = t.ep.Addr
		}
	}

	ctx := r.Context()
	c, reused, err := t.pool.get(ctx)
	if err != nil {
		return 0, err
	}
	if reused && !(o.retryable && o.idempotent) && !c.open() {
		// A request that may not be sent twice is never written to a
		// connection the pod may have closed: once written, a failure could
		// not be told from the pod acting on it and dying.
		c.Close()
		if c, err = t.pool.dial(ctx); err != nil {
			return 0, err
		}
		reused = false
	}
	// One watch on the client for the whole exchange: when it leaves, every
	// read and write on the pod's connection fails at once, so neither the
	// wait for the pod's headers nor the copy of its body outlives it.
	stop := context.AfterFunc(ctx, c.abort)
	sent := c.written
	resp, err := p.roundTrip(ctx, c, r, out, t.ep.Addr, o.upgrade)
	if err != nil && reused && ctx.Err() == nil && retryableError(err) && o.retryable &&
		(c.written == sent || o.idempotent) {
		// A pooled connection failing says little about the pod: it may
		// have closed it an instant ago. Try once on a fresh connection
		// before blaming the pod, when nothing reached it or sending the
		// request again is harmless.
		stop()
		c.Close()
		if c, err = t.pool.dial(ctx); err != nil {
			return 0, err
		}
		stop = context.AfterFunc(ctx, c.abort)
		sent = c.written
		resp, err = p.roundTrip(ctx, c, r, out, t.ep.Addr, o.upgrade)
	}
	if err != nil {
		stop()
		c.Close()
		if c.written == sent && o.retryable {
			err = &attemptError{err}
		}
		return 0, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if !stop() {
			c.Close()
			return 0, ctx.Err()
		}
		return p.switchProtocols(w, c, resp, o.upgrade, t.ep)
	}

	dst := w.Header()
	connection := resp.Header["Connection"]
	for k, vv := range resp.Header {
		if isHopByHop(k) || (connection != nil && namedIn(connection, k)) {
			continue
		}
		dst[k] = vv
	}
	w.WriteHeader(resp.StatusCode)

	// A body of unknown length is a stream (server-sent events, long polls):
	// flush each chunk as it arrives instead of holding it in the buffer.
	flush := resp.ContentLength == -1
	bp := bufferPool.Get().(*[]byte)
	err = copyBody(w, resp.Body, *bp, flush)
	bufferPool.Put(bp)
	if !stop() || err != nil || resp.Close {
		c.Close()
	} else {
		t.pool.put(c)
	}
	if err != nil {
		if ctx.Err() == nil {
			p.log.LogAttrs(ctx, slog.LevelWarn, "response aborted",
				slog.String("pod", t.ep.Pod), slog.String("addr", t.ep.Addr), slog.Any("error", err))
		}
		// Abort the client's connection so a truncated body cannot pass for
		// a complete one.
		panic(http.ErrAbortHandler)
	}
	for k, vv := range resp.Trailer {
		dst[http.TrailerPrefix+k] = vv
	}
	return resp.StatusCode, nil
}

var aLongTimeAgo = time.Unix(1, 0)

// maxInformational bounds the 1xx responses skipped before the final one.
const maxInformational = 5

// roundTrip writes the request on c and reads the response headers, within
// the response header timeout and for as long as the client waits. out is
// the request to write with Request.Write; nil writes r's head directly.
// A 101 is returned only when the client asked to switch to upgrade.
//
// The caller watches ctx and aborts c when it ends. Each deadline roundTrip
// sets could undo that abort, so ctx is checked after each.
func (p *Proxy) roundTrip(ctx context.Context, c *upstreamConn, r, out *http.Request, addr, upgrade string) (*http.Response, error) {
	req := out
	if out != nil {
		if err := out.Write(c.bw); err != nil {
			return nil, err
		}
	} else {
		writeHead(c.bw, r, addr, upgrade)
		req = r
	}
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(p.opts.ResponseHeaderTimeout))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var resp *http.Response
	var err error
	for range maxInformational {
		resp, err = http.ReadResponse(c.br, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	if resp.StatusCode < 200 && (resp.StatusCode != http.StatusSwitchingProtocols || upgrade == "") {
		// A pod that switches protocols unasked is not speaking HTTP to us.
		return nil, fmt.Errorf("unexpected %s from pod", resp.Status)
	}
	c.SetReadDeadline(time.Time{})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return resp, nil
}

func copyBody(w http.ResponseWriter, body io.Reader, buf []byte, flush bool) error {
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if flush {
				if f, ok := w.(http.Flusher); ok {
					f.Flush()
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// fail answers a request no endpoint could serve and returns the status.
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, err error) int {
	code := http.StatusBadGateway
	text := "bad gateway: no endpoint of service " + p.opts.Service + " answered"
	if isTimeout(err) {
		code = http.StatusGatewayTimeout
		text = "gateway timeout: no endpoint of service " + p.opts.Service + " answered in time"
	}
	p.log.LogAttrs(r.Context(), slog.LevelWarn, "request failed",
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
	http.Error(w, text, code)
	return code
}

// canRetry reports whether a failed attempt may be sent to another pod, by
// the rule Go's http.Transport and nginx's proxy_next_upstream share:
//   - a failed dial, or an attempt of which not a byte was written, can be
//     retried whatever the method: the pod never saw it;
//   - once the request may have reached the pod, only an idempotent one
//     (GET, HEAD, OPTIONS, TRACE, or one carrying Idempotency-Key or
//     X-Idempotency-Key) without a body is sent again, after the pod refused,
//     reset or closed the connection before its response headers were read.
//     A POST the pod may have acted on before dying is never replayed.
//
// A pod that sent no response headers within the Service's timeout (hung,
// or frozen by docker pause) may still be working on the request: only an
// idempotent request without a body is sent elsewhere then, as nginx's
// proxy_next_upstream timeout does; any other gets 504.
func canRetry(o outgoing, err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var ae *attemptError
	if errors.As(err, &ae) && !isTimeout(err) {
		return true
	}
	if !o.retryable || !o.idempotent {
		return false
	}
	return retryableError(err) || errors.Is(err, io.ErrUnexpectedEOF) || isTimeout(err)
}

// idempotent reports whether sending r twice does what sending it once does:
// the methods RFC 9110 calls idempotent and safe to retry automatically, or a
// request whose client marked it with an idempotency key (the IETF draft's
// Idempotency-Key, or the older X-Idempotency-Key), as Go's Transport reads
// them. PUT and DELETE are idempotent by the RFC, yet neither Go nor nginx
// retries them unasked, and neither does the proxy.
func idempotent(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	if _, ok := r.Header["Idempotency-Key"]; ok {
		return true
	}
	_, ok := r.Header["X-Idempotency-Key"]
	return ok
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

// retryableError reports whether err means the pod never got the request or
// dropped it before answering: a dial failure, a refused, reset or closed
// connection. A closed connection is io.EOF only when not a byte of the
// response came; a partial response (io.ErrUnexpectedEOF) means the pod
// was answering, and it is not retried. A timeout is not one of them: the pod may still be working.
func retryableError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, io.EOF)
}

// Values shared by every outgoing request; Request.Write only reads them.
var (
	emptyValue    = []string{""}
	protoHTTP     = []string{"http"}
	protoHTTPS    = []string{"https"}
	trailersValue = []string{"trailers"}
	upgradeValue  = []string{"Upgrade"}
)

// outgoingHeader builds the header sent to the pod: the client's, less the
// hop-by-hop headers and the client's own forwarding claims, plus
// X-Forwarded-For, -Host and -Proto as httputil's Rewrite with SetXForwarded
// sets them. Values are shared with r, not copied: neither side changes them.
func outgoingHeader(r *http.Request, upgrade string) http.Header {
	h := make(http.Header, len(r.Header)+3)
	connection := r.Header["Connection"]
	for k, vv := range r.Header {
		if isHopByHop(k) || isForwarding(k) || (connection != nil && namedIn(connection, k)) {
			continue
		}
		h[k] = vv
	}
	// TE: trailers is the one hop-by-hop value worth passing on: it tells a
	// gRPC-style pod that trailers will get through.
	if te := r.Header["Te"]; te != nil && namedIn(te, "trailers") {
		h["Te"] = trailersValue
	}
	// Without this Request.Write would send Go's own User-Agent.
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = emptyValue
	}
	vals := make([]string, 2)
	vals[1] = r.Host
	h["X-Forwarded-Host"] = vals[1:2:2]
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		vals[0] = ip
		h["X-Forwarded-For"] = vals[0:1:1]
	}
	if r.TLS != nil {
		h["X-Forwarded-Proto"] = protoHTTPS
	} else {
		h["X-Forwarded-Proto"] = protoHTTP
	}
	if upgrade != "" {
		h["Connection"] = upgradeValue
		h["Upgrade"] = []string{upgrade}
	}
	return h
}

// headOnly reports whether r is sent as its head alone, written by writeHead:
// no body and no trailers, and a method for which Request.Write would send
// no Content-Length either.
func headOnly(r *http.Request, bodyless bool) bool {
	if !bodyless || r.ContentLength > 0 || r.Trailer != nil || len(r.TransferEncoding) > 0 {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete:
		return true
	}
	return false
}

// writeHead writes the head of a bodyless request to the pod: what
// Request.Write would write for it with the header of outgoingHeader, minus
// the allocations of building that header, an outgoing Request and
// Request.Write's formatted lines. The pod's bufio.Writer reports any write
// error at Flush. Header order is the map's, as HTTP allows.
func writeHead(bw *bufio.Writer, r *http.Request, addr, upgrade string) {
	host := r.Host
	if host == "" {
		host = addr
	}
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(r.URL.RequestURI())
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	connection := r.Header["Connection"]
	for k, vv := range r.Header {
		if isHopByHop(k) || isForwarding(k) || k == "Host" || k == "Content-Length" ||
			(connection != nil && namedIn(connection, k)) {
			continue
		}
		for _, v := range vv {
			writeField(bw, k, v)
		}
	}
	if te := r.Header["Te"]; te != nil && namedIn(te, "trailers") {
		bw.WriteString("Te: trailers\r\n")
	}
	writeField(bw, "X-Forwarded-Host", r.Host)
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		writeField(bw, "X-Forwarded-For", ip)
	}
	if r.TLS != nil {
		bw.WriteString("X-Forwarded-Proto: https\r\n")
	} else {
		bw.WriteString("X-Forwarded-Proto: http\r\n")
	}
	if upgrade != "" {
		bw.WriteString("Connection: Upgrade\r\n")
		writeField(bw, "Upgrade", upgrade)
	}
	bw.WriteString("\r\n")
}

// writeField writes one header line. A line break in the value, which
// net/http's server never lets through but a caller mounting the Proxy on
// its own server might, becomes a space, as in Request.Write; otherwise the
// pod would read a header the client smuggled in.
func writeField(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	if strings.ContainsAny(v, "\r\n") {
		v = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, v)
	}
	bw.WriteString(strings.TrimSpace(v))
	bw.WriteString("\r\n")
}

// isHopByHop reports the headers of RFC 9110 section 7.6.1 that describe one
// connection and must not be forwarded; k is in canonical form.
func isHopByHop(k string) bool {
	switch k {
	// Expect is answered by the proxy's own server when the handler reads
	// the body, so the pod gets the body at once and has nothing to expect.
	case "Expect", "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// isForwarding reports the forwarding headers a client could forge; the
// proxy sets its own.
func isForwarding(k string) bool {
	switch k {
	case "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
		return true
	}
	return false
}

// namedIn reports whether any of a header's comma-separated values lists
// name.
func namedIn(values []string, name string) bool {
	for _, v := range values {
		if hasToken(v, name) {
			return true
		}
	}
	return false
}

// hasToken reports whether the comma-separated header value v lists token,
// case-insensitively.
func hasToken(v, token string) bool {
	for t := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

// stallGuard bounds the wait for each read of a request body, so a client
// that sends headers and then a body byte by byte, or not at all, holds a
// connection and a pod's request for BodyReadTimeout at most, not forever.
// Once the body is read the deadline is lifted: the server's own watch on
// the connection must not see it while the pod answers.
type stallGuard struct {
	body    io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	done    bool
	stalled bool // a read waited out the timeout
}

func (g *stallGuard) Read(b []byte) (int, error) {
	if g.done {
		return g.body.Read(b)
	}
	g.rc.SetReadDeadline(time.Now().Add(g.timeout))
	n, err := g.body.Read(b)
	switch {
	case err == io.EOF:
		g.done = true
		g.rc.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The deadline stays: the server must not wait for the rest of
		// this body either, and closes the connection.
		g.stalled = true
	}
	return n, err
}

func (g *stallGuard) Close() error { return g.body.Close() }
