package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Warnings travel as the Kubernetes API server sends them: an answer that
// succeeded carries `Warning: 299 - "text"` headers, which kubectl prints
// on stderr as "Warning: text". A backend adds one with Warn while it
// handles a request; the client hands them to its OnWarning function.

type warningsKey struct{}

type warnings struct {
	mu   sync.Mutex
	msgs []string
}

// Warn adds a warning to the answer of the request ctx belongs to. Outside
// a request it does nothing.
func Warn(ctx context.Context, msg string) {
	ws, ok := ctx.Value(warningsKey{}).(*warnings)
	if !ok {
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.msgs = append(ws.msgs, msg)
}

// withWarnings lets the handlers of next add warnings to their answers.
func withWarnings(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws := &warnings{}
		ctx := context.WithValue(r.Context(), warningsKey{}, ws)
		next.ServeHTTP(&warningWriter{ResponseWriter: w, ws: ws}, r.WithContext(ctx))
	})
}

// warningWriter writes the warnings as headers just before the status line.
type warningWriter struct {
	http.ResponseWriter
	ws      *warnings
	written bool
}

func (w *warningWriter) WriteHeader(code int) {
	if !w.written {
		w.written = true
		w.ws.mu.Lock()
		for _, m := range w.ws.msgs {
			w.Header().Add("Warning", "299 - "+strconv.Quote(m))
		}
		w.ws.mu.Unlock()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *warningWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController flush the streams through it.
func (w *warningWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ParseWarning reads the text of one Warning header: 299 - "text".
func ParseWarning(h string) (string, bool) {
	parts := strings.SplitN(h, " ", 3)
	if len(parts) != 3 || parts[0] != "299" {
		return "", false
	}
	text, err := strconv.Unquote(parts[2])
	if err != nil {
		return "", false
	}
	return text, true
}
