// Package dashboard is mini-deploy's web page: a rollout watched as it
// happens, on one screen.
//
// The daemon serves it on a loopback TCP port of its own (Serve). A TCP port
// is open to every user of the machine, unlike the API's 0600 socket, so the
// page asks for a token, as Jupyter does: `mini-deploy dashboard` prints a URL
// carrying it, the first visit trades it for a cookie, and every request
// without one gets 401.
//
// The page has no second source of truth. What it shows comes from the
// server.Backend the API serves, and it arrives live: /events is a stream of
// Server-Sent Events that sends the whole state again (state.go) whenever a
// watch of the Backend reports a change, and the traffic chart's points
// (traffic.go), sampled once a second from the proxies' own request counters.
// What the page does goes through /k/, the very API routes the CLI calls,
// behind the token; only the verbs the page offers are let through.
//
// The HTML, CSS and JavaScript in web/ are written here and embedded; there
// is no build step and no package manager.
//
// Where a change goes: something new to show is a field of State (read from
// the Backend in state.go) and a render function in web/app.js; a new action
// is a route in actions (dashboard.go) and a case of act in web/app.js.
package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

// DefaultAddress lets the kernel pick a free loopback port; `mini-deploy
// dashboard` prints where it ended up.
const DefaultAddress = "127.0.0.1:0"

// ActionHeader must be on every request that changes something. A page of
// another origin cannot set it without a CORS preflight, which is never
// answered, so a link or a form elsewhere cannot act with the cookie.
const ActionHeader = "X-Mini-Deploy-Dashboard"

//go:embed web
var webFS embed.FS

// RequestCount is the running total of the requests one pod of one
// Service's revision answered with one status code (0: no answer). A series
// may go (its pod left the Service) or start again from 0.
type RequestCount struct {
	Service  string
	Pod      string
	Revision string
	Code     int
	Count    uint64
}

// Options configure a Dashboard.
type Options struct {
	Backend server.Backend
	// Token opens the page; NewToken makes one.
	Token string
	// Name tells this daemon's cookie from another's: browsers keep cookies
	// by host, not by port, and two daemons may share 127.0.0.1.
	Name string
	// Requests reads the proxies' request counters; nil draws no chart.
	Requests func() []RequestCount
	Logger   *slog.Logger
}

// Dashboard is the page and its streams, an http.Handler.
type Dashboard struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	traffic *traffic
	plans   *planCache
}

// NewToken returns a fresh random token.
func NewToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("dashboard token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// New returns the dashboard over opts.Backend. Run must run beside it for
// the chart to move.
func New(opts Options) (*Dashboard, error) {
	if opts.Backend == nil {
		return nil, errors.New("dashboard: a backend is required")
	}
	if len(opts.Token) < 16 {
		return nil, errors.New("dashboard: the token must be at least 16 characters (use NewToken)")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dashboard{opts: opts, log: opts.Logger, traffic: newTraffic(opts.Requests), plans: newPlanCache()}
	static, err := fs.Sub(webFS, "web")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.index)
	mux.Handle("GET /static/", d.authorized(http.StripPrefix("/static/", http.FileServerFS(static))))
	mux.Handle("GET /events", d.authorized(http.HandlerFunc(d.events)))
	mux.Handle("/k/", d.authorized(d.actions(server.New(opts.Backend, opts.Logger))))
	d.mux = mux
	return d, nil
}

func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	d.mux.ServeHTTP(w, r)
}

// URL is where a browser opens the dashboard listening on addr.
func URL(addr, token string) string {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	return "http://" + addr + "/?token=" + token
}

func (d *Dashboard) cookieName() string {
	name := "mini-deploy-dashboard"
	if d.opts.Name != "" {
		name += "-" + d.opts.Name
	}
	return name
}

// valid says whether r carries the token, in its cookie or its query.
func (d *Dashboard) valid(r *http.Request) bool {
	tok := ""
	if c, err := r.Cookie(d.cookieName()); err == nil {
		tok = c.Value
	}
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(d.opts.Token)) == 1
}

func (d *Dashboard) authorized(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.valid(r) {
			unauthorized(w)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprintln(w, "401 Unauthorized: open the URL that `mini-deploy dashboard` prints; it carries the token.")
}

// index trades a token in the query for a cookie, then serves the page.
func (d *Dashboard) index(w http.ResponseWriter, r *http.Request) {
	if tok := r.URL.Query().Get("token"); tok != "" {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(d.opts.Token)) != 1 {
			unauthorized(w)
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: d.cookieName(), Value: d.opts.Token, Path: "/",
			HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: int((30 * 24 * time.Hour).Seconds()),
		})
		// The token leaves the address bar and the history.
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if !d.valid(r) {
		unauthorized(w)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.ServeFileFS(w, r, webFS, "web/index.html")
}

// actions lets through to the API the reads the page makes and the verbs
// it offers, and nothing else: no apply, no down, no exec.
func (d *Dashboard) actions(api http.Handler) http.Handler {
	const ns = "/k/api/v1/namespaces/{ns}"
	pass := http.StripPrefix("/k", api)
	mux := http.NewServeMux()
	mux.Handle("GET /k/api/v1/{resource}", pass)
	mux.Handle("GET "+ns+"/{resource}", pass)
	mux.Handle("GET "+ns+"/{resource}/{name}", pass)
	act := func(pattern string) {
		mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get(ActionHeader) == "" {
				http.Error(w, "403 Forbidden: actions need the "+ActionHeader+" header", http.StatusForbidden)
				return
			}
			d.log.Info("dashboard action", "method", r.Method, "path", strings.TrimPrefix(r.URL.Path, "/k"))
			pass.ServeHTTP(w, r)
		}))
	}
	act("PUT " + ns + "/{resource}/{name}/scale")
	act("POST " + ns + "/{resource}/{name}/image")
	act("POST " + ns + "/deployments/{name}/rollout")
	act("DELETE " + ns + "/pods/{name}")
	return mux
}

// Run samples the proxies' counters once a second, and plans each rollout
// as soon as it starts, until ctx ends.
func (d *Dashboard) Run(ctx context.Context) {
	go d.planRollouts(ctx)
	d.traffic.run(ctx)
}

// Serve serves d on ln, and samples traffic, until ctx ends.
func Serve(ctx context.Context, ln net.Listener, d *Dashboard) error {
	srv := &http.Server{
		Handler:           d,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		// Streams end with ctx, so Shutdown does not wait on them.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	go d.Run(ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve dashboard: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}
