package host

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Client talks to one data-plane process on its socket.
type Client struct {
	socket string
	hc     *http.Client
}

// NewClient returns a Client of the data plane on socket. It connects on
// first use.
func NewClient(socket string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{socket: socket, hc: &http.Client{Transport: tr}}
}

// Socket is the path the Client connects to.
func (c *Client) Socket() string { return c.socket }

// Close drops the Client's idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://dataplane"+path, rd)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("data plane %s: %w", c.socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode == http.StatusGone {
			return ErrHandedOff
		}
		return fmt.Errorf("data plane %s: %s", c.socket, strings.TrimSpace(string(msg)))
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("data plane %s: %s %s: %w", c.socket, method, path, err)
	}
	return nil
}

// Apply sends the state to serve.
func (c *Client) Apply(ctx context.Context, s State) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodPut, "/state", s, &st)
	return st, err
}

// Current returns the state the data plane serves.
func (c *Client) Current(ctx context.Context) (State, error) {
	var s State
	err := c.do(ctx, http.MethodGet, "/state", nil, &s)
	return s, err
}

// Drain asks the data plane to drain addrs; timeout 0 waits as long as ctx.
func (c *Client) Drain(ctx context.Context, addrs []string, timeout time.Duration) error {
	return c.do(ctx, http.MethodPost, "/drain", drainRequest{Addresses: addrs, Timeout: timeout}, nil)
}

// Info returns the data plane's status and the control plane's command line.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var i Info
	err := c.do(ctx, http.MethodGet, "/status", nil, &i)
	return i, err
}

// Shutdown asks the data plane to stop serving and exit.
func (c *Client) Shutdown(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/shutdown", nil, nil)
}

// Gather reads the data plane's metrics.
func (c *Client) Gather(ctx context.Context) ([]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://dataplane/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("data plane %s: %w", c.socket, err)
	}
	defer resp.Body.Close()
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	var out []*dto.MetricFamily
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, fmt.Errorf("data plane %s: metrics: %w", c.socket, err)
		}
		out = append(out, mf)
	}
}

// Session is a control plane's session with a data plane (serve.go says
// what it means).
type Session struct {
	conn net.Conn
	end  chan struct{} // closed when the session ends
	why  string        // then: the data plane's last line, "shutdown" or "handoff"; "" when the connection broke
}

// OpenSession opens a session, telling the control plane's command line.
func (c *Client) OpenSession(ctx context.Context, argv []string) (*Session, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket)
	if err != nil {
		return nil, fmt.Errorf("data plane %s: %w", c.socket, err)
	}
	hello, _ := json.Marshal(sessionHello{Argv: argv})
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := fmt.Fprintf(conn, "POST /session HTTP/1.1\r\nHost: dataplane\r\nContent-Length: 0\r\n\r\n%s\n", hello); err != nil {
		conn.Close()
		return nil, fmt.Errorf("data plane %s: session: %w", c.socket, err)
	}
	br := bufio.NewReader(conn)
	l, err := readLine(br)
	if err != nil || l != "ok" {
		conn.Close()
		if err == nil {
			err = fmt.Errorf("answered %q", l)
		}
		return nil, fmt.Errorf("data plane %s: session: %w", c.socket, err)
	}
	_ = conn.SetDeadline(time.Time{})
	s := &Session{conn: conn, end: make(chan struct{})}
	go func() {
		s.why, _ = readLine(br)
		close(s.end)
	}()
	return s, nil
}

// End is closed when the session ends; Why then tells why.
func (s *Session) End() <-chan struct{} { return s.end }

// Why is, once End is closed, "shutdown" or "handoff" when the data plane
// said so, and "" when the connection broke (the data plane died, or Close
// was called).
func (s *Session) Why() string {
	<-s.end
	return s.why
}

// Bye tells the data plane that the control plane stops on purpose, and
// closes the session.
func (s *Session) Bye() {
	_ = s.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = io.WriteString(s.conn, "bye\n")
	s.conn.Close()
}

// Close ends the session without a goodbye.
func (s *Session) Close() { s.conn.Close() }
