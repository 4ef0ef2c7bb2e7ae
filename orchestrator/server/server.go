// Package server puts a Backend on the wire.
//
// The daemon owns the control plane; the CLI only talks to it. Between them
// runs this small HTTP+JSON API on a unix socket, shaped after the Kubernetes
// API server's paths (/api/v1/namespaces/default/deployments/kubia) so that
// anyone who has read a kubectl -v=8 trace finds their way around. Every
// route is one Backend method: the server decodes, calls, encodes, and turns
// the error the backend returned into a Status whose message is the
// backend's own words, so the CLI can print exactly what went wrong.
//
// Two routes stream. A watch writes one JSON WatchEvent per line as changes
// happen; a log with follow=true copies the container's output as it is
// written. Both flush every write, and both stop as soon as the client goes
// away or the server shuts down, so a `get -w` left open never holds the
// daemon up on exit.
//
// Where a change goes: a new verb is a route here, a method of Backend
// (backend.go) implemented by orchestrator/backend, and a method of the same
// name in package client. Resource names in paths come from the api registry.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Timeouts of the API server. There is no write timeout: watches and
// followed logs last as long as the client wants them.
const (
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 2 * time.Minute
	// ShutdownTimeout bounds how long Serve waits for requests in flight
	// (an apply, a down) once its context ends.
	ShutdownTimeout = 10 * time.Second
	// maxBody bounds a request body; manifests are small.
	maxBody = 16 << 20
)

type handler struct {
	b   Backend
	log *slog.Logger
}

// New returns the API as an http.Handler over b. A nil logger discards.
func New(b Backend, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{b: b, log: logger}
	mux := http.NewServeMux()
	const ns = "/api/v1/namespaces/{ns}"
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /version", h.info)
	mux.HandleFunc("POST /apply", h.apply)
	mux.HandleFunc("POST /down", h.down)
	mux.HandleFunc("GET /api/v1/{resource}", h.list)
	mux.HandleFunc("GET "+ns+"/{resource}", h.list)
	mux.HandleFunc("GET "+ns+"/{resource}/{name}", h.get)
	mux.HandleFunc("PUT "+ns+"/{resource}/{name}", h.update)
	mux.HandleFunc("POST /diff", h.diff)
	mux.HandleFunc("DELETE "+ns+"/{resource}/{name}", h.delete)
	mux.HandleFunc("PUT "+ns+"/{resource}/{name}/scale", h.scale)
	mux.HandleFunc("POST "+ns+"/{resource}/{name}/image", h.setImage)
	mux.HandleFunc("PUT "+ns+"/services/{name}/selector", h.setSelector)
	mux.HandleFunc("GET "+ns+"/pods/{name}/log", h.logs)
	mux.HandleFunc("POST "+ns+"/pods/{name}/exec", h.exec)
	mux.HandleFunc("GET "+ns+"/pods/{name}/addr", h.podAddr)
	mux.HandleFunc("GET /apis/metrics.k8s.io/v1beta1/pods", h.topPods)
	mux.HandleFunc("GET /apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods", h.topPods)
	mux.HandleFunc("POST "+ns+"/deployments/{name}/rollout", h.rollout)
	mux.HandleFunc("POST "+ns+"/rollingupdates", h.rollingUpdate)
	return withWarnings(mux)
}

// Serve serves h on ln until ctx ends, then stops streams at once, lets
// other requests finish for up to ShutdownTimeout and returns.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	stop := make(chan struct{})
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.Background(), stopKey{}, (<-chan struct{})(stop))
		},
	}
	srv.RegisterOnShutdown(func() { close(stop) })
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve API: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shut down API: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve API: %w", err)
	}
	return nil
}

func (h *handler) info(w http.ResponseWriter, r *http.Request) {
	info, err := h.b.Info(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, info)
}

func (h *handler) down(w http.ResponseWriter, r *http.Request) {
	if err := h.b.Down(r.Context()); err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, Status{Kind: "Status", Message: "down", Code: http.StatusOK})
}

func (h *handler) apply(w http.ResponseWriter, r *http.Request) {
	var req ApplyRequest
	objs, ok := h.decodeObjects(w, r, &req)
	if !ok {
		return
	}
	results, err := h.b.Apply(r.Context(), objs, req.Options)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, ApplyResponse{Results: results})
}

// decodeObjects reads the objects of an apply or a diff.
func (h *handler) decodeObjects(w http.ResponseWriter, r *http.Request, req *ApplyRequest) ([]api.Object, bool) {
	if !h.decode(w, r, req) {
		return nil, false
	}
	objs := make([]api.Object, 0, len(req.Objects))
	for i, raw := range req.Objects {
		obj, err := api.DecodeStrict(fmt.Sprintf("object %d", i+1), raw)
		if err != nil {
			h.fail(w, r, badRequest(err.Error()))
			return nil, false
		}
		objs = append(objs, obj)
	}
	return objs, true
}

func (h *handler) diff(w http.ResponseWriter, r *http.Request) {
	var req ApplyRequest
	objs, ok := h.decodeObjects(w, r, &req)
	if !ok {
		return
	}
	results, err := h.b.Diff(r.Context(), objs)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, DiffResponse{Results: results})
}

// update replaces the object at the path with the body, which must name
// the same object.
func (h *handler) update(w http.ResponseWriter, r *http.Request) {
	kind, ok := h.kind(w, r)
	if !ok {
		return
	}
	var raw json.RawMessage
	if !h.decode(w, r, &raw) {
		return
	}
	// As strict as an apply; DecodeStrict drops what only the server
	// sets, so the object itself is decoded again to keep its
	// resourceVersion, the update's precondition.
	if _, err := api.DecodeStrict("the object", raw); err != nil {
		h.fail(w, r, badRequest(err.Error()))
		return
	}
	obj, err := DecodeObject(kind, raw)
	if err != nil {
		h.fail(w, r, badRequest(err.Error()))
		return
	}
	ns, name := r.PathValue("ns"), r.PathValue("name")
	m := obj.Meta()
	if m.Namespace == "" {
		m.Namespace = ns
	}
	if obj.GetTypeMeta().Kind != kind || m.Name != name || m.Namespace != ns {
		h.fail(w, r, badRequest(fmt.Sprintf("the object in the body (%s %s/%s) is not the one in the path (%s %s/%s)", obj.GetTypeMeta().Kind, m.Namespace, m.Name, kind, ns, name)))
		return
	}
	updated, err := h.b.Update(r.Context(), obj)
	h.replyObject(w, r, kind, updated, err)
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	kind, ok := h.kind(w, r)
	if !ok {
		return
	}
	ns := r.PathValue("ns")
	q := r.URL.Query()
	selector := q.Get("labelSelector")
	if b, _ := strconv.ParseBool(q.Get("watch")); b {
		h.watch(w, r, kind, ns, selector)
		return
	}
	var objs []api.Object
	var err error
	if kind == api.KindEvent && selector == "" {
		var ref *api.ObjectReference
		if ref, err = involvedObject(q.Get("fieldSelector")); err == nil {
			var events []*api.Event
			events, err = h.b.Events(r.Context(), ns, ref)
			for _, ev := range events {
				objs = append(objs, ev)
			}
		}
	} else {
		objs, err = h.b.List(r.Context(), kind, ns, selector)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	list := ObjectList{APIVersion: "v1", Kind: "List", Items: make([]json.RawMessage, 0, len(objs))}
	for _, obj := range objs {
		raw, err := encodeObject(kind, obj)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		list.Items = append(list.Items, raw)
	}
	h.reply(w, list)
}

// involvedObject reads the one field selector events are listed by:
// involvedObject.kind=Deployment,involvedObject.name=kubia[,involvedObject.uid=...].
func involvedObject(sel string) (*api.ObjectReference, error) {
	if sel == "" {
		return nil, nil
	}
	ref := &api.ObjectReference{}
	for _, term := range strings.Split(sel, ",") {
		k, v, ok := strings.Cut(term, "=")
		if !ok {
			return nil, badRequest(fmt.Sprintf("field selector %q: want key=value terms", sel))
		}
		switch k {
		case "involvedObject.kind":
			ref.Kind = v
		case "involvedObject.name":
			ref.Name = v
		case "involvedObject.namespace":
			ref.Namespace = v
		case "involvedObject.uid":
			ref.UID = v
		default:
			return nil, badRequest(fmt.Sprintf("field selector %q: field %q is not supported", sel, k))
		}
	}
	return ref, nil
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	kind, ok := h.kind(w, r)
	if !ok {
		return
	}
	obj, err := h.b.Get(r.Context(), kind, r.PathValue("ns"), r.PathValue("name"))
	h.replyObject(w, r, kind, obj, err)
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request) {
	kind, ok := h.kind(w, r)
	if !ok {
		return
	}
	opts := DeleteOptions{Cascade: r.URL.Query().Get("cascade")}
	if g := r.URL.Query().Get("gracePeriodSeconds"); g != "" {
		n, err := strconv.ParseInt(g, 10, 64)
		if err != nil || n < 0 {
			h.fail(w, r, badRequest(fmt.Sprintf("gracePeriodSeconds %q: not a number of seconds", g)))
			return
		}
		opts.GracePeriodSeconds = &n
	}
	obj, err := h.b.Delete(r.Context(), kind, r.PathValue("ns"), r.PathValue("name"), opts)
	h.replyObject(w, r, kind, obj, err)
}

func (h *handler) scale(w http.ResponseWriter, r *http.Request) {
	kind, ok := h.kind(w, r)
	if !ok {
		return
	}
	var req ScaleRequest
	if !h.decode(w, r, &req) {
		return
	}
	obj, err := h.b.Scale(r.Context(), kind, r.PathValue("ns"), r.PathValue("name"), req.Replicas)
	h.replyObject(w, r, kind, obj, err)
}

func (h *handler) setImage(w http.ResponseWriter, r *http.Request) {
	kind, ok := h.kind(w, r)
	if !ok {
		return
	}
	var req ImageRequest
	if !h.decode(w, r, &req) {
		return
	}
	obj, err := h.b.SetImage(r.Context(), kind, r.PathValue("ns"), r.PathValue("name"), req.Images)
	h.replyObject(w, r, kind, obj, err)
}

func (h *handler) setSelector(w http.ResponseWriter, r *http.Request) {
	var req SelectorRequest
	if !h.decode(w, r, &req) {
		return
	}
	obj, err := h.b.SetSelector(r.Context(), r.PathValue("ns"), r.PathValue("name"), req.Selector, req.ResourceVersion)
	h.replyObject(w, r, api.KindService, obj, err)
}

func (h *handler) topPods(w http.ResponseWriter, r *http.Request) {
	items, err := h.b.TopPods(r.Context(), r.PathValue("ns"), r.URL.Query().Get("labelSelector"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, PodMetricsList{Items: items})
}

func (h *handler) podAddr(w http.ResponseWriter, r *http.Request) {
	port, err := strconv.Atoi(r.URL.Query().Get("port"))
	if err != nil {
		h.fail(w, r, badRequest(fmt.Sprintf("port %q: not a number", r.URL.Query().Get("port"))))
		return
	}
	addr, err := h.b.PodAddr(r.Context(), r.PathValue("ns"), r.PathValue("name"), port)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, PodAddrResponse{Address: addr})
}

func (h *handler) rollout(w http.ResponseWriter, r *http.Request) {
	var req RolloutRequest
	if !h.decode(w, r, &req) {
		return
	}
	req.Namespace, req.Name = r.PathValue("ns"), r.PathValue("name")
	resp, err := h.b.Rollout(r.Context(), req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.reply(w, resp)
}

func (h *handler) rollingUpdate(w http.ResponseWriter, r *http.Request) {
	var spec api.RollingUpdateSpec
	if !h.decode(w, r, &spec) {
		return
	}
	ru, err := h.b.RollingUpdate(r.Context(), r.PathValue("ns"), spec)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.replyObject(w, r, api.KindRollingUpdate, ru, nil)
}

func (h *handler) kind(w http.ResponseWriter, r *http.Request) (string, bool) {
	res := r.PathValue("resource")
	kind, ok := api.KindForResource(res)
	if !ok {
		h.fail(w, r, &notFoundError{fmt.Sprintf("the server doesn't have a resource type %q", res)})
	}
	return kind, ok
}

// notFoundError answers 404 for a path the API does not know.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

func (h *handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		h.fail(w, r, badRequest("decode request body: "+err.Error()))
		return false
	}
	return true
}

func (h *handler) replyObject(w http.ResponseWriter, r *http.Request, kind string, obj api.Object, err error) {
	if err != nil {
		h.fail(w, r, err)
		return
	}
	raw, err := encodeObject(kind, obj)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(raw, '\n'))
}

func (h *handler) reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		h.log.Warn("write API answer", "error", err)
	}
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	st := StatusFor(err)
	var nf *notFoundError
	if errors.As(err, &nf) {
		st.Reason, st.Code = ReasonNotFound, http.StatusNotFound
	}
	if st.Code >= 500 {
		h.log.Error("API request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	} else {
		h.log.Debug("API request refused", "method", r.Method, "path", r.URL.Path, "code", st.Code, "error", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st.Code)
	json.NewEncoder(w).Encode(st)
}
