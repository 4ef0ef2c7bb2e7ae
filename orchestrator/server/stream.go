package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// The two routes that stream, a watch and a followed log (and exec, whose
// output is copied as it comes), and the context that ends them when the
// server shuts down.

// stopKey carries Serve's shutdown signal to streaming handlers: Shutdown
// waits for active connections, and a watch would otherwise never end.
type stopKey struct{}

// streamContext is r's context, also cancelled when the server shuts down.
func streamContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	if stop, ok := r.Context().Value(stopKey{}).(<-chan struct{}); ok {
		go func() {
			select {
			case <-stop:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	return ctx, cancel
}

func (h *handler) watch(w http.ResponseWriter, r *http.Request, kind, ns, selector string) {
	ctx, cancel := streamContext(r)
	defer cancel()
	events, err := h.b.Watch(ctx, kind, ns, selector)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	enc := json.NewEncoder(w)
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			raw, err := encodeObject(kind, ev.Object)
			if err != nil {
				h.log.Warn("watch: encode object", "error", err)
				continue
			}
			if err := enc.Encode(WireWatchEvent{Type: ev.Type, Object: raw}); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}

func (h *handler) logs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var opts LogOptions
	opts.Follow, _ = strconv.ParseBool(q.Get("follow"))
	opts.Timestamps, _ = strconv.ParseBool(q.Get("timestamps"))
	if t := q.Get("tail"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			h.fail(w, r, badRequest(fmt.Sprintf("tail %q: not a number", t)))
			return
		}
		opts.Tail = n
	}
	ctx, cancel := streamContext(r)
	defer cancel()
	rd, err := h.b.Logs(ctx, r.PathValue("ns"), r.PathValue("name"), opts)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer rd.Close()
	// The reader may block in Read with no regard for ctx; closing it is
	// what unblocks it when the client leaves.
	go func() {
		<-ctx.Done()
		rd.Close()
	}()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	br := bufio.NewReaderSize(rd, 32<<10)
	buf := make([]byte, 32<<10)
	for {
		n, err := br.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if br.Buffered() == 0 {
				rc.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}

func (h *handler) exec(w http.ResponseWriter, r *http.Request) {
	var req ExecRequest
	if !h.decode(w, r, &req) {
		return
	}
	if len(req.Command) == 0 {
		h.fail(w, r, badRequest("exec: no command given"))
		return
	}
	out := &execWriter{w: w, rc: http.NewResponseController(w)}
	res, err := h.b.Exec(r.Context(), r.PathValue("ns"), r.PathValue("name"), req.Command, out)
	if err != nil && !out.started {
		h.fail(w, r, err)
		return
	}
	out.start()
	if err != nil {
		w.Header().Set(ErrorTrailer, err.Error())
		return
	}
	w.Header().Set(ExitCodeTrailer, strconv.Itoa(res.ExitCode))
}

// execWriter streams an exec's output: the headers go with the first byte
// (until then, an error can still be a plain error response), and each
// write is flushed, so nothing collects in the daemon and the client sees
// output as the command prints it.
type execWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
}

func (e *execWriter) start() {
	if e.started {
		return
	}
	e.started = true
	h := e.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Trailer", ExitCodeTrailer+", "+ErrorTrailer)
	e.w.WriteHeader(http.StatusOK)
}

func (e *execWriter) Write(p []byte) (int, error) {
	e.start()
	n, err := e.w.Write(p)
	if err == nil {
		err = e.rc.Flush()
	}
	return n, err
}
