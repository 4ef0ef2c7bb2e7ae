package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/net/websocket"
)

const (
	readHeaderTimeout = 10 * time.Second
	// idleTimeout is longer than net/http.Transport's default IdleConnTimeout
	// (90 s), so a pooling proxy closes an idle connection before this server
	// does and never sends a request on a connection that is being closed.
	idleTimeout = 120 * time.Second
)

var errDrainDeadline = errors.New("in-flight requests still running at the shutdown deadline")

// newHandler answers every path like luksa/kubia, /healthz with "ok" for
// readiness probes, and /ws as a WebSocket that greets with the same line and
// then echoes every message. responseDelay holds each plain answer (not
// /healthz, not /ws) to make requests long enough to observe draining.
func newHandler(version, hostname string, responseDelay time.Duration) http.Handler {
	body := fmt.Sprintf("This is %s running in pod %s\n", version, hostname)
	mux := http.NewServeMux()
	// A websocket.Server without Handshake takes clients of any origin, so
	// that command-line clients, which send none, are welcome too.
	mux.Handle("/ws", websocket.Server{Handler: func(c *websocket.Conn) {
		defer c.Close()
		if err := websocket.Message.Send(c, body); err != nil {
			return
		}
		io.Copy(c, c)
	}})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w, version, hostname)
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// A request that changes something, marked with an id, is logged
		// as acted on: a test reading every pod's log can tell whether one
		// request reached two pods.
		if id := r.Header.Get("X-Request-Id"); id != "" && r.Method != http.MethodGet && r.Method != http.MethodHead {
			io.Copy(io.Discard, r.Body)
			fmt.Fprintf(actedOn, "acted on %s %s id=%s\n", r.Method, r.URL.Path, id)
		}
		if responseDelay > 0 {
			t := time.NewTimer(responseDelay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
		setHeaders(w, version, hostname)
		w.Write([]byte(body))
	})
	return mux
}

// actedOn is where requests acted on are logged: the pod's output.
var actedOn io.Writer = os.Stdout

func setHeaders(w http.ResponseWriter, version, hostname string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Pod", hostname)
	h.Set("X-Version", version)
}

// serve serves h on ln until ctx is cancelled, then stops accepting, lets
// in-flight requests finish for up to shutdownTimeout and returns. It returns
// nil after a clean drain.
func serve(ctx context.Context, ln net.Listener, h http.Handler, shutdownTimeout time.Duration, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down, draining in-flight requests", "deadline", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
		return errDrainDeadline
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
