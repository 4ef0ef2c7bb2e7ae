// Package client is the CLI's side of the daemon's API.
//
// Every command the user types ends up here as one method call, and every
// method is the Backend method of the same name, carried over the unix
// socket: *Client satisfies server.Backend itself. That symmetry is the
// point. The CLI cannot tell whether it talks to a daemon or to a fake, a
// test can put a fake backend behind a real socket and call it through the
// real client, and an error keeps its meaning on the way: a 404 comes back
// as an *APIError that errors.Is matches against api.ErrNotFound, with the
// daemon's own message, ready to print.
//
// When nothing answers on the socket, every method fails with an error that
// errors.Is matches against ErrDaemonNotRunning and that tells the user how
// to start one.
//
// Where a change goes: a new verb is one method here, named as its
// server.Backend method; resource paths come from the api registry.
package client

// client.go is over 500 lines because it has one short method per route of
// the daemon's API; they are alike on purpose and read best side by side.

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
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

var _ server.Backend = (*Client)(nil)

// ErrDaemonNotRunning is matched by the error of any call that finds no
// daemon listening on the socket.
var ErrDaemonNotRunning = errors.New("the mini-deploy daemon is not running")

// notRunningError names the socket and tells what to do.
type notRunningError struct {
	socket string
	err    error
}

func (e *notRunningError) Error() string {
	return fmt.Sprintf("cannot reach the mini-deploy daemon at %s: is it running? Start it with \"mini-deploy up\"", e.socket)
}

func (e *notRunningError) Is(target error) bool { return target == ErrDaemonNotRunning }
func (e *notRunningError) Unwrap() error        { return e.err }

// APIError is an error answer of the daemon. Error returns the daemon's
// message verbatim.
type APIError struct {
	Code    int
	Reason  string
	Message string
}

func (e *APIError) Error() string { return e.Message }

// Is maps the answer back to the API's sentinels, so code on either side
// of the socket tests errors the same way.
func (e *APIError) Is(target error) bool {
	switch target {
	case api.ErrNotFound:
		return e.Code == http.StatusNotFound
	case api.ErrConflict:
		return e.Code == http.StatusConflict && e.Reason != server.ReasonAlreadyExists
	case api.ErrAlreadyExists:
		return e.Code == http.StatusConflict && e.Reason == server.ReasonAlreadyExists
	}
	return false
}

// IsInvalid reports whether err is the daemon refusing an object as invalid
// (HTTP 422).
func IsInvalid(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == http.StatusUnprocessableEntity
}

// Client calls the daemon's API. It is safe for concurrent use. It has one
// method per route of orchestrator/server (server.Backend's verbs, plus Info
// and Ping), so its size follows the API's; each method is a few lines.
type Client struct {
	socket string
	hc     *http.Client
	// OnWarning, when set, is given the text of each warning the daemon
	// sends with an answer (an image that is not on the engine).
	OnWarning func(text string)
}

// New returns a client of the daemon listening on socketPath. Nothing is
// dialled until the first call.
func New(socketPath string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
		MaxIdleConnsPerHost: 8,
	}
	return &Client{socket: socketPath, hc: &http.Client{Transport: tr}}
}

// Socket is the path the client dials.
func (c *Client) Socket() string { return c.socket }

// Close drops idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Ping returns nil when a daemon answers on the socket.
func (c *Client) Ping(ctx context.Context) error {
	resp, err := c.do(ctx, http.MethodGet, "/healthz", nil, nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Info describes the daemon.
func (c *Client) Info(ctx context.Context) (server.Info, error) {
	var info server.Info
	err := c.call(ctx, http.MethodGet, "/version", nil, nil, &info)
	return info, err
}

// Down deletes every object and container; the daemon then exits.
func (c *Client) Down(ctx context.Context) error {
	return c.call(ctx, http.MethodPost, "/down", nil, struct{}{}, nil)
}

// Apply creates or updates objs in one transaction.
func (c *Client) Apply(ctx context.Context, objs []api.Object, opts server.ApplyOptions) ([]server.ApplyResult, error) {
	req := server.ApplyRequest{Options: opts, Objects: make([]json.RawMessage, 0, len(objs))}
	for _, obj := range objs {
		raw, err := json.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("encode %s %q: %w", obj.GetTypeMeta().Kind, obj.Meta().Name, err)
		}
		req.Objects = append(req.Objects, raw)
	}
	var resp server.ApplyResponse
	if err := c.call(ctx, http.MethodPost, "/apply", nil, req, &resp); err != nil {
		return nil, err
	}
	return resp.Results, nil
}

// Diff says what applying objs would change, changing nothing.
func (c *Client) Diff(ctx context.Context, objs []api.Object) ([]server.DiffResult, error) {
	req := server.ApplyRequest{Objects: make([]json.RawMessage, 0, len(objs))}
	for _, obj := range objs {
		raw, err := json.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("encode %s %q: %w", obj.GetTypeMeta().Kind, obj.Meta().Name, err)
		}
		req.Objects = append(req.Objects, raw)
	}
	var resp server.DiffResponse
	if err := c.call(ctx, http.MethodPost, "/diff", nil, req, &resp); err != nil {
		return nil, err
	}
	return resp.Results, nil
}

// Update replaces an object's desired state; its resourceVersion, when
// set, must still be the stored one.
func (c *Client) Update(ctx context.Context, obj api.Object) (api.Object, error) {
	kind := obj.GetTypeMeta().Kind
	p, err := objectPath(kind, obj.Meta().Namespace, obj.Meta().Name)
	if err != nil {
		return nil, err
	}
	return c.object(ctx, kind, http.MethodPut, p, nil, obj)
}

// Get returns one object.
func (c *Client) Get(ctx context.Context, kind, namespace, name string) (api.Object, error) {
	p, err := objectPath(kind, namespace, name)
	if err != nil {
		return nil, err
	}
	return c.object(ctx, kind, http.MethodGet, p, nil, nil)
}

// List returns the objects of kind in namespace ("" means all) matching
// selector.
func (c *Client) List(ctx context.Context, kind, namespace, selector string) ([]api.Object, error) {
	p, err := collectionPath(kind, namespace)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if selector != "" {
		q.Set("labelSelector", selector)
	}
	return c.list(ctx, kind, p, q)
}

// Events lists events in namespace, only those about ref when it is not nil.
func (c *Client) Events(ctx context.Context, namespace string, ref *api.ObjectReference) ([]*api.Event, error) {
	p, err := collectionPath(api.KindEvent, namespace)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if ref != nil {
		var terms []string
		for _, t := range [][2]string{{"kind", ref.Kind}, {"name", ref.Name}, {"namespace", ref.Namespace}, {"uid", ref.UID}} {
			if t[1] != "" {
				terms = append(terms, "involvedObject."+t[0]+"="+t[1])
			}
		}
		q.Set("fieldSelector", strings.Join(terms, ","))
	}
	objs, err := c.list(ctx, api.KindEvent, p, q)
	if err != nil {
		return nil, err
	}
	events := make([]*api.Event, 0, len(objs))
	for _, obj := range objs {
		ev, ok := obj.(*api.Event)
		if !ok {
			return nil, fmt.Errorf("daemon sent a %s among events", obj.GetTypeMeta().Kind)
		}
		events = append(events, ev)
	}
	return events, nil
}

// Watch streams changes of kind until ctx ends or the daemon closes the
// stream; the channel is then closed.
func (c *Client) Watch(ctx context.Context, kind, namespace, selector string) (<-chan server.WatchEvent, error) {
	p, err := collectionPath(kind, namespace)
	if err != nil {
		return nil, err
	}
	q := url.Values{"watch": {"true"}}
	if selector != "" {
		q.Set("labelSelector", selector)
	}
	resp, err := c.do(ctx, http.MethodGet, p, q, nil)
	if err != nil {
		return nil, err
	}
	out := make(chan server.WatchEvent)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var wev server.WireWatchEvent
			if err := json.Unmarshal(sc.Bytes(), &wev); err != nil {
				return
			}
			obj, err := server.DecodeObject(kind, wev.Object)
			if err != nil {
				return
			}
			select {
			case out <- server.WatchEvent{Type: wev.Type, Object: obj}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// Delete deletes one object and returns it as it was.
func (c *Client) Delete(ctx context.Context, kind, namespace, name string, opts server.DeleteOptions) (api.Object, error) {
	p, err := objectPath(kind, namespace, name)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if opts.Cascade != "" {
		q.Set("cascade", opts.Cascade)
	}
	if opts.GracePeriodSeconds != nil {
		q.Set("gracePeriodSeconds", strconv.FormatInt(*opts.GracePeriodSeconds, 10))
	}
	return c.object(ctx, kind, http.MethodDelete, p, q, nil)
}

// Scale sets the replicas of a workload.
func (c *Client) Scale(ctx context.Context, kind, namespace, name string, replicas int32) (api.Object, error) {
	p, err := objectPath(kind, namespace, name)
	if err != nil {
		return nil, err
	}
	return c.object(ctx, kind, http.MethodPut, p+"/scale", nil, server.ScaleRequest{Replicas: replicas})
}

// SetImage sets container images of a workload's template.
func (c *Client) SetImage(ctx context.Context, kind, namespace, name string, images map[string]string) (api.Object, error) {
	p, err := objectPath(kind, namespace, name)
	if err != nil {
		return nil, err
	}
	return c.object(ctx, kind, http.MethodPost, p+"/image", nil, server.ImageRequest{Images: images})
}

// SetSelector replaces a Service's selector.
func (c *Client) SetSelector(ctx context.Context, namespace, name string, selector map[string]string, resourceVersion string) (api.Object, error) {
	p, err := objectPath(api.KindService, namespace, name)
	if err != nil {
		return nil, err
	}
	body := server.SelectorRequest{Selector: selector, ResourceVersion: resourceVersion}
	return c.object(ctx, api.KindService, http.MethodPut, p+"/selector", nil, body)
}

// Logs returns a pod's output; with Follow it stays open until ctx ends or
// the container stops. The caller closes it.
func (c *Client) Logs(ctx context.Context, namespace, pod string, opts server.LogOptions) (io.ReadCloser, error) {
	p, err := objectPath(api.KindPod, namespace, pod)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.Timestamps {
		q.Set("timestamps", "true")
	}
	if opts.Tail != 0 {
		q.Set("tail", strconv.Itoa(opts.Tail))
	}
	resp, err := c.do(ctx, http.MethodGet, p+"/log", q, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Exec runs command in a pod's container, copying its output to out as it
// comes, and returns its exit code.
func (c *Client) Exec(ctx context.Context, namespace, pod string, command []string, out io.Writer) (server.ExecResult, error) {
	var res server.ExecResult
	p, err := objectPath(api.KindPod, namespace, pod)
	if err != nil {
		return res, err
	}
	resp, err := c.do(ctx, http.MethodPost, p+"/exec", nil, server.ExecRequest{Command: command})
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(out, resp.Body); err != nil {
		return res, fmt.Errorf("exec: output cut off: %w", err)
	}
	if msg := resp.Trailer.Get(server.ErrorTrailer); msg != "" {
		return res, errors.New(msg)
	}
	code := resp.Trailer.Get(server.ExitCodeTrailer)
	if res.ExitCode, err = strconv.Atoi(code); err != nil {
		return res, fmt.Errorf("exec: the daemon sent no exit code (%q)", code)
	}
	return res, nil
}

// TopPods samples the CPU and memory use of the running pods of namespace
// ("" for all) matching selector.
func (c *Client) TopPods(ctx context.Context, namespace, selector string) ([]server.PodMetrics, error) {
	p := "/apis/metrics.k8s.io/v1beta1/pods"
	if namespace != "" {
		p = "/apis/metrics.k8s.io/v1beta1/namespaces/" + url.PathEscape(namespace) + "/pods"
	}
	q := url.Values{}
	if selector != "" {
		q.Set("labelSelector", selector)
	}
	var list server.PodMetricsList
	err := c.call(ctx, http.MethodGet, p, q, nil, &list)
	return list.Items, err
}

// PodAddr is where this host reaches port of a pod.
func (c *Client) PodAddr(ctx context.Context, namespace, pod string, port int) (string, error) {
	p, err := objectPath(api.KindPod, namespace, pod)
	if err != nil {
		return "", err
	}
	var resp server.PodAddrResponse
	err = c.call(ctx, http.MethodGet, p+"/addr", url.Values{"port": {strconv.Itoa(port)}}, nil, &resp)
	return resp.Address, err
}

// Rollout runs one rollout verb on a Deployment.
func (c *Client) Rollout(ctx context.Context, req server.RolloutRequest) (server.RolloutResponse, error) {
	var resp server.RolloutResponse
	p, err := objectPath(api.KindDeployment, req.Namespace, req.Name)
	if err != nil {
		return resp, err
	}
	err = c.call(ctx, http.MethodPost, p+"/rollout", nil, req, &resp)
	return resp, err
}

// RollingUpdate starts, or re-attaches to, the legacy rolling update of
// spec.From.
func (c *Client) RollingUpdate(ctx context.Context, namespace string, spec api.RollingUpdateSpec) (*api.RollingUpdate, error) {
	p, err := collectionPath(api.KindRollingUpdate, namespace)
	if err != nil {
		return nil, err
	}
	obj, err := c.object(ctx, api.KindRollingUpdate, http.MethodPost, p, nil, spec)
	if err != nil {
		return nil, err
	}
	ru, ok := obj.(*api.RollingUpdate)
	if !ok {
		return nil, fmt.Errorf("daemon answered a rolling update with a %s", obj.GetTypeMeta().Kind)
	}
	return ru, nil
}

func collectionPath(kind, namespace string) (string, error) {
	info, ok := api.InfoOf(kind)
	if !ok || !info.Served {
		return "", fmt.Errorf("no resource type for kind %q", kind)
	}
	res := info.Plural
	if namespace == "" {
		return "/api/v1/" + res, nil
	}
	return "/api/v1/namespaces/" + url.PathEscape(namespace) + "/" + res, nil
}

func objectPath(kind, namespace, name string) (string, error) {
	if namespace == "" {
		namespace = api.DefaultNamespace
	}
	if name == "" {
		return "", fmt.Errorf("a %s needs a name", kind)
	}
	p, err := collectionPath(kind, namespace)
	return p + "/" + url.PathEscape(name), err
}

func (c *Client) object(ctx context.Context, kind, method, path string, q url.Values, body any) (api.Object, error) {
	var raw json.RawMessage
	if err := c.call(ctx, method, path, q, body, &raw); err != nil {
		return nil, err
	}
	return server.DecodeObject(kind, raw)
}

func (c *Client) list(ctx context.Context, kind, path string, q url.Values) ([]api.Object, error) {
	var list server.ObjectList
	if err := c.call(ctx, http.MethodGet, path, q, nil, &list); err != nil {
		return nil, err
	}
	objs := make([]api.Object, 0, len(list.Items))
	for _, raw := range list.Items {
		obj, err := server.DecodeObject(kind, raw)
		if err != nil {
			return nil, err
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

// call sends body as JSON and decodes the answer into out (nil discards it).
func (c *Client) call(ctx context.Context, method, path string, q url.Values, body, out any) error {
	resp, err := c.do(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

// do sends one request and returns a 2xx answer; any other answer becomes
// an *APIError.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	u := "http://mini-deploy" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if isNotListening(err) {
			return nil, &notRunningError{socket: c.socket, err: err}
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("mini-deploy daemon at %s: %w", c.socket, err)
	}
	if c.OnWarning != nil {
		for _, h := range resp.Header.Values("Warning") {
			if text, ok := server.ParseWarning(h); ok {
				c.OnWarning(text)
			}
		}
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var st server.Status
	if json.Unmarshal(data, &st) != nil || st.Message == "" {
		st.Message = strings.TrimSpace(string(data))
		if st.Message == "" {
			st.Message = resp.Status
		}
	}
	return nil, &APIError{Code: resp.StatusCode, Reason: st.Reason, Message: st.Message}
}

// isNotListening tells "no daemon" (no socket file, or nobody accepting on
// it) from a daemon that answered badly.
func isNotListening(err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return false
	}
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOTSOCK)
}
