package host

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The data plane's private API, on a unix socket only its owner can open.
// Bodies are JSON.
//
//	PUT  /state     State -> Status: serve this (Apply)
//	GET  /state     the State served now (Current)
//	POST /drain     drainRequest -> 204, or 409 with what was still in flight
//	GET  /status    Status, with the control plane's command line
//	GET  /metrics   the proxies' metrics, Prometheus text
//	POST /session   a control plane's session: a line protocol on the hijacked
//	                connection, which ends with "bye" when the control plane
//	                stops on purpose; without it, the control plane crashed
//	POST /shutdown  stop serving and exit (mini-deploy down)
//	POST /handoff   hand the listening sockets to a newer process (handoff.go)

// drainRequest is the body of POST /drain.
type drainRequest struct {
	Addresses []string      `json:"addresses"`
	Timeout   time.Duration `json:"timeout"`
}

// Info is the body of GET /status.
type Info struct {
	Status
	// ControlPlane is the command line of the control plane that last
	// opened a session, by which a crashed one is started again.
	ControlPlane []string `json:"controlPlane,omitempty"`
}

// Server serves a Host on the data plane's private socket.
type Server struct {
	host *Host
	log  *slog.Logger
	// lost is called when a control plane's session ends without a goodbye,
	// with the command line the control plane gave when it opened it.
	lost     func(argv []string)
	registry *prometheus.Registry

	mu       sync.Mutex
	argv     []string
	sessions map[*session]struct{}
	done     chan struct{} // closed once the process should exit
	reason   string        // why: "shutdown" or "handoff"
}

type session struct {
	conn net.Conn
	out  chan string // the one line the server sends at the end
}

// NewServer returns the Server of h. lost (may be nil) is told when a
// control plane crashes.
func NewServer(h *Host, log *slog.Logger, lost func(argv []string)) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "minideploy_dataplane"}))
	return &Server{
		host: h, log: log, lost: lost, registry: reg,
		sessions: map[*session]struct{}{}, done: make(chan struct{}),
	}
}

// Done is closed when the data plane should exit: after a shutdown, or once
// a newer process has taken its listeners over. Reason tells which.
func (s *Server) Done() <-chan struct{} { return s.done }

// Reason is "shutdown" or "handoff" once Done is closed.
func (s *Server) Reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// finish closes Done with a reason, once, and tells every session.
func (s *Server) finish(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reason != "" {
		return
	}
	s.reason = reason
	for ss := range s.sessions {
		select {
		case ss.out <- reason:
		default:
		}
	}
	close(s.done)
}

// Serve answers on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /state", s.putState)
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.host.Current()) })
	mux.HandleFunc("POST /drain", s.drain)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		argv := s.argv
		s.mu.Unlock()
		writeJSON(w, Info{Status: s.host.Status(), ControlPlane: argv})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(prometheus.Gatherers{s.host.metrics, s.registry}, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /session", s.session)
	mux.HandleFunc("POST /shutdown", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		s.finish("shutdown")
	})
	mux.HandleFunc("POST /handoff", s.handoff)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *Server) putState(w http.ResponseWriter, r *http.Request) {
	var st State
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20)).Decode(&st); err != nil {
		http.Error(w, "state: "+err.Error(), http.StatusBadRequest)
		return
	}
	status, err := s.host.Apply(r.Context(), st)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, status)
}

func (s *Server) drain(w http.ResponseWriter, r *http.Request) {
	var req drainRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "drain: "+err.Error(), http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}
	if err := s.host.Drain(ctx, req.Addresses); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeError answers ErrHandedOff with 410 Gone, which the client turns
// back into ErrHandedOff, and anything else with 409.
func writeError(w http.ResponseWriter, err error) {
	code := http.StatusConflict
	if errors.Is(err, ErrHandedOff) {
		code = http.StatusGone
	}
	http.Error(w, err.Error(), code)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// sessionHello is the first line a control plane sends on its session.
type sessionHello struct {
	Argv []string `json:"argv"`
}

// session serves a control plane's session. The control plane sends a hello
// line, then "bye" before it stops on purpose; the data plane answers "ok",
// then one line when it goes away itself ("shutdown" or "handoff"). A
// session that ends without "bye" is a control plane that crashed.
func (s *Server) session(w http.ResponseWriter, r *http.Request) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "session: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Time{})
	line, err := rw.ReadString('\n')
	if err != nil {
		return
	}
	var hello sessionHello
	if err := json.Unmarshal([]byte(line), &hello); err != nil {
		fmt.Fprintf(rw, "error %v\n", err)
		rw.Flush()
		return
	}
	ss := &session{conn: conn, out: make(chan string, 1)}
	s.mu.Lock()
	if s.reason != "" {
		s.mu.Unlock()
		fmt.Fprintf(rw, "%s\n", s.reason)
		rw.Flush()
		return
	}
	// The latest control plane's word holds: none when a service manager
	// restarts it.
	s.argv = hello.Argv
	s.sessions[ss] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, ss)
		s.mu.Unlock()
	}()
	fmt.Fprint(rw, "ok\n")
	if rw.Flush() != nil {
		return
	}
	s.log.Info("control plane session opened")

	bye := make(chan bool, 1)
	go func() {
		l, err := rw.ReadString('\n')
		bye <- err == nil && strings.TrimSpace(l) == "bye"
	}()
	select {
	case clean := <-bye:
		if clean {
			s.log.Info("control plane stopped")
			return
		}
		s.mu.Lock()
		argv, reason := s.argv, s.reason
		s.mu.Unlock()
		if reason != "" {
			return
		}
		s.log.Warn("control plane lost: its session ended without a goodbye")
		if s.lost != nil {
			s.lost(argv)
		}
	case reason := <-ss.out:
		fmt.Fprintf(rw, "%s\n", reason)
		rw.Flush()
	}
}

// readLine reads one line of a hijacked connection's buffered reader.
func readLine(br *bufio.Reader) (string, error) {
	l, err := br.ReadString('\n')
	return strings.TrimSpace(l), err
}
