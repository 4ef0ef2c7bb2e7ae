// Package backend is mini-deploy's API layer, what the Kubernetes API server
// is to a cluster: every CLI verb lands here as one method of API, which
// validates, stores and answers. It never starts a container or touches a
// proxy: what it needs of the node agent (pod views, logs, exec, stopping a
// pod) and of the data plane (node ports, endpoints) it asks through the
// narrow Pods and Services interfaces, and it imports neither the runtime nor
// the proxy.
//
// To add a verb, add a method here and to server.Backend; to change what an
// apply keeps or merges, see Apply and apply_merge.go; what a kind is (its
// names, whether apply accepts it) is said once, in api's kind registry.
package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/labels"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// The API is the API server's backend.
var _ server.Backend = (*API)(nil)

// Options are what the API reports about its control plane.
type Options struct {
	Version string
	Home    string
	Address string // where Service proxies listen; a Service's clusterIP
	Network string
	// Started and MetricsURL are read when asked: the control plane sets
	// them as it starts.
	Started    func() time.Time
	MetricsURL func() string
	// OnDown is called after Down removed everything (the daemon exits).
	OnDown func()
}

// Pods is the node agent as the API sees it: views of the pods, their logs,
// exec, and stopping them by the termination protocol.
type Pods interface {
	Pod(namespace, name string) (*api.Pod, bool)
	Pods(namespace string, sel labels.Selector) []*api.Pod
	// Terminate stops a pod within grace (nil: the pod's own period); done
	// closes when it is gone.
	Terminate(namespace, name string, grace *time.Duration) (view *api.Pod, done <-chan struct{}, ok bool)
	Logs(ctx context.Context, namespace, name string, opts server.LogOptions) (io.ReadCloser, error)
	Exec(ctx context.Context, namespace, name string, command []string, out io.Writer) (server.ExecResult, error)
	// Metrics samples the CPU and memory use of a pod.
	Metrics(ctx context.Context, namespace, name string) (server.PodMetrics, error)
	// ImageExists reports whether the engine has an image.
	ImageExists(ctx context.Context, ref string) (bool, error)
	// Addr is where this host reaches a port of a pod's container.
	Addr(namespace, name string, port int) (string, error)
	// StopAll stops every pod and removes every container of this control
	// plane; it returns when they are gone or ctx ends.
	StopAll(ctx context.Context)
	RemoveNetwork(ctx context.Context)
}

// Services is the data plane as the API sees it.
type Services interface {
	// AllocateNodePorts gives svc's ports their node ports, holding each
	// newly taken one open in reserved until its proxy serves it.
	AllocateNodePorts(svc, old *api.Service, others []*api.Service, reserved map[int32]net.Listener) error
	Release(reserved map[int32]net.Listener)
	SyncService(ctx context.Context, key api.Key) (time.Duration, error)
	EndpointsView(svc *api.Service) *api.Endpoints
	ProxyFailures() map[api.Key]map[int32]string
	StopAllProxies()
}

// Deleter deletes an object with what it owns.
type Deleter interface {
	Delete(ctx context.Context, key api.Key, cascade string) (api.Object, error)
}

// API implements server.Backend over the store, the node agent and the data
// plane. Its methods are the API's verbs, one each (apply, get, list, watch,
// delete, scale, set image, rollout, logs, exec, ...), so it is as large as
// the API; the work behind each verb lives in the file named after it.
type API struct {
	store    *store.Store
	pods     Pods
	services Services
	deleter  Deleter
	opts     Options
	log      *slog.Logger
}

// New returns the API of a control plane.
func New(st *store.Store, pods Pods, services Services, deleter Deleter, opts Options, log *slog.Logger) *API {
	return &API{store: st, pods: pods, services: services, deleter: deleter, opts: opts, log: log}
}

// Get returns one object; pods and endpoints are built from what is running.
func (a *API) Get(ctx context.Context, kind, namespace, name string) (api.Object, error) {
	namespace = nsOrDefault(namespace)
	switch kind {
	case api.KindPod:
		p, ok := a.pods.Pod(namespace, name)
		if !ok {
			return nil, api.NotFound(kind, name)
		}
		return p, nil
	case api.KindEndpoints:
		obj, err := a.store.Get(api.Key{Kind: api.KindService, Namespace: namespace, Name: name})
		if err != nil {
			return nil, api.NotFound(kind, name)
		}
		return a.services.EndpointsView(obj.(*api.Service)), nil
	}
	return a.store.Get(api.Key{Kind: kind, Namespace: namespace, Name: name})
}

// List returns the objects of kind matching a label selector string.
func (a *API) List(ctx context.Context, kind, namespace, selector string) ([]api.Object, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, fmt.Errorf("invalid label selector %q: %w", selector, err)
	}
	var out []api.Object
	switch kind {
	case api.KindPod:
		for _, p := range a.pods.Pods(namespace, sel) {
			out = append(out, p)
		}
		return out, nil
	case api.KindEndpoints:
		svcs, err := a.store.List(api.KindService, namespace)
		if err != nil {
			return nil, err
		}
		for _, s := range svcs {
			if sel.Matches(s.Meta().Labels) {
				out = append(out, a.services.EndpointsView(s.(*api.Service)))
			}
		}
		return out, nil
	}
	objs, err := a.store.List(kind, namespace)
	if err != nil {
		return nil, err
	}
	for _, obj := range objs {
		if sel.Matches(obj.Meta().Labels) {
			out = append(out, obj)
		}
	}
	return out, nil
}

// maxWatchBacklog is how many changes may wait for a client's watch before
// it is closed.
const maxWatchBacklog = 1000

// Watch streams changes of kind. Stored kinds come from the store's watch;
// pods, which are not stored, are compared every 200ms.
func (a *API) Watch(ctx context.Context, kind, namespace, selector string) (<-chan server.WatchEvent, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, fmt.Errorf("invalid label selector %q: %w", selector, err)
	}
	out := make(chan server.WatchEvent, 64)
	send := func(t string, obj api.Object) bool {
		select {
		case out <- server.WatchEvent{Type: t, Object: obj}:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if kind == api.KindPod || kind == api.KindEndpoints {
		go func() {
			defer close(out)
			last := map[string]string{}
			for {
				objs, _ := a.List(ctx, kind, namespace, selector)
				seen := map[string]bool{}
				for _, obj := range objs {
					id := api.KeyOf(obj).String()
					seen[id] = true
					b, _ := json.Marshal(obj)
					prev, had := last[id]
					if had && prev == string(b) {
						continue
					}
					last[id] = string(b)
					t := "MODIFIED"
					if !had {
						t = "ADDED"
					}
					if !send(t, obj) {
						return
					}
				}
				for id := range last {
					if !seen[id] {
						delete(last, id)
						parts := strings.SplitN(id, "/", 3)
						gone, _ := api.New(kind)
						gone.Meta().Namespace, gone.Meta().Name = parts[1], parts[2]
						if !send("DELETED", gone) {
							return
						}
					}
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
		}()
		return out, nil
	}
	// A client that stops reading (`get -w`, then Ctrl-Z) is cut off
	// rather than have every later change queued for it.
	changes := a.store.WatchLimited(ctx, maxWatchBacklog)
	go func() {
		defer close(out)
		for ev := range changes {
			obj := ev.Object
			if obj.GetTypeMeta().Kind != kind || (namespace != "" && api.KeyOf(obj).Namespace != namespace) || !sel.Matches(obj.Meta().Labels) {
				continue
			}
			t := map[store.EventType]string{store.Added: "ADDED", store.Modified: "MODIFIED", store.Deleted: "DELETED"}[ev.Type]
			if !send(t, obj) {
				return
			}
		}
	}()
	return out, nil
}

// Delete removes an object. Workloads cascade to their pods (background:
// return at once; foreground: wait until the pods are gone; orphan: leave
// them for another controller to adopt). Deleting a pod terminates it; its
// controller replaces it.
func (a *API) Delete(ctx context.Context, kind, namespace, name string, opts server.DeleteOptions) (api.Object, error) {
	key := api.Key{Kind: kind, Namespace: nsOrDefault(namespace), Name: name}
	if kind == api.KindPod {
		var grace *time.Duration
		if g := opts.GracePeriodSeconds; g != nil {
			d := time.Duration(*g) * time.Second
			grace = &d
		}
		view, done, ok := a.pods.Terminate(key.Namespace, name, grace)
		if !ok {
			return nil, api.NotFound(kind, name)
		}
		if opts.Cascade == "foreground" {
			select {
			case <-done:
			case <-ctx.Done():
			}
		}
		return view, nil
	}
	return a.deleter.Delete(ctx, key, opts.Cascade)
}

// Scale sets spec.replicas of a workload.
func (a *API) Scale(ctx context.Context, kind, namespace, name string, replicas int32) (api.Object, error) {
	if replicas < 0 {
		return nil, fmt.Errorf("%s %q: replicas must be greater than or equal to 0, got %d", strings.ToLower(kind), name, replicas)
	}
	return a.updateSpec(kind, namespace, name, "", func(obj api.Object) error {
		switch v := obj.(type) {
		case *api.Deployment:
			v.Spec.Replicas = &replicas
		case *api.ReplicaSet:
			v.Spec.Replicas = &replicas
		case *api.ReplicationController:
			v.Spec.Replicas = &replicas
		default:
			return fmt.Errorf("%s %q cannot be scaled: only deployments, replicasets and replicationcontrollers can", strings.ToLower(kind), name)
		}
		return nil
	})
}

// updateSpec reads, changes, validates and writes one object; resourceVersion
// "" writes over whatever is stored.
func (a *API) updateSpec(kind, namespace, name, resourceVersion string, change func(api.Object) error) (api.Object, error) {
	obj, err := a.store.Get(api.Key{Kind: kind, Namespace: nsOrDefault(namespace), Name: name})
	if err != nil {
		return nil, err
	}
	if err := change(obj); err != nil {
		return nil, err
	}
	api.SetDefaults(obj)
	if err := api.Validate(obj); err != nil {
		return nil, err
	}
	obj.Meta().ResourceVersion = resourceVersion
	return a.store.Update(obj)
}

// SetImage changes container images of a workload's template.
func (a *API) SetImage(ctx context.Context, kind, namespace, name string, images map[string]string) (api.Object, error) {
	obj, err := a.updateSpec(kind, namespace, name, "", func(obj api.Object) error {
		t := api.PodTemplateOf(obj)
		if t == nil {
			return fmt.Errorf("%s %q has no pod template", strings.ToLower(kind), name)
		}
		return setImages(t, images)
	})
	if err == nil {
		a.warnMissingImages(ctx, obj)
	}
	return obj, err
}

// SetSelector replaces a Service's selector: the endpoints switch at once.
// It returns once the proxies route to the new pods, so the next request
// already goes there.
func (a *API) SetSelector(ctx context.Context, namespace, name string, selector map[string]string, resourceVersion string) (api.Object, error) {
	obj, err := a.updateSpec(api.KindService, namespace, name, resourceVersion, func(obj api.Object) error {
		obj.(*api.Service).Spec.Selector = selector
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := a.services.SyncService(ctx, api.KeyOf(obj)); err != nil {
		a.log.Warn("service sync after set selector", "service", name, "error", err)
	}
	return obj, nil
}

// Logs streams a pod's container output.
func (a *API) Logs(ctx context.Context, namespace, name string, opts server.LogOptions) (io.ReadCloser, error) {
	return a.pods.Logs(ctx, nsOrDefault(namespace), name, opts)
}

// Exec runs command in the pod's container.
func (a *API) Exec(ctx context.Context, namespace, name string, command []string, out io.Writer) (server.ExecResult, error) {
	return a.pods.Exec(ctx, nsOrDefault(namespace), name, command, out)
}

// TopPods samples the CPU and memory use of the running pods of namespace
// ("" for all) that selector matches, all at once: each sample takes the
// engine about a second.
func (a *API) TopPods(ctx context.Context, namespace, selector string) ([]server.PodMetrics, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, fmt.Errorf("invalid label selector %q: %w", selector, err)
	}
	var pods []*api.Pod
	for _, p := range a.pods.Pods(namespace, sel) {
		if p.Status.Phase == "Running" && p.DeletionTimestamp == nil {
			pods = append(pods, p)
		}
	}
	out := make([]server.PodMetrics, len(pods))
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Go(func() { out[i], errs[i] = a.pods.Metrics(ctx, p.Namespace, p.Name) })
	}
	wg.Wait()
	var got []server.PodMetrics
	for i := range out {
		// A pod that stopped meanwhile has no metrics; it is left out.
		if errs[i] == nil {
			got = append(got, out[i])
		}
	}
	return got, nil
}

// PodAddr is where this host reaches a port of a pod, for port-forward.
func (a *API) PodAddr(ctx context.Context, namespace, name string, port int) (string, error) {
	if port <= 0 || port > 65535 {
		return "", fmt.Errorf("port %d: not a port number", port)
	}
	return a.pods.Addr(nsOrDefault(namespace), name, port)
}

// setImages sets the image of each named container of t ("*": every one),
// as `set image` and `rollout plan --image` do.
func setImages(t *api.PodTemplateSpec, images map[string]string) error {
	for cname, image := range images {
		found := false
		for i := range t.Spec.Containers {
			if cname == "*" || t.Spec.Containers[i].Name == cname {
				t.Spec.Containers[i].Image, found = image, true
			}
		}
		if !found {
			return fmt.Errorf("unable to find container named %q", cname)
		}
	}
	return nil
}

// Events lists events, oldest first.
func (a *API) Events(ctx context.Context, namespace string, ref *api.ObjectReference) ([]*api.Event, error) {
	objs, err := a.store.List(api.KindEvent, namespace)
	if err != nil {
		return nil, err
	}
	var out []*api.Event
	for _, obj := range objs {
		ev := obj.(*api.Event)
		if ref != nil && (ev.InvolvedObject.Name != ref.Name || (ref.Kind != "" && ev.InvolvedObject.Kind != ref.Kind)) {
			continue
		}
		// An object deleted and created again under the same name is
		// another object: its predecessor's events are not its own.
		if ref != nil && ref.UID != "" && ev.InvolvedObject.UID != "" && ev.InvolvedObject.UID != ref.UID {
			continue
		}
		out = append(out, ev)
	}
	// Timestamps have whole seconds; within one, the store's revisions
	// keep the order the events happened in.
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.LastTimestamp.Equal(b.LastTimestamp.Time) {
			return a.LastTimestamp.Before(b.LastTimestamp.Time)
		}
		return store.Revision(a) < store.Revision(b)
	})
	return out, nil
}

// Info describes this control plane.
func (a *API) Info(ctx context.Context) (server.Info, error) {
	info := server.Info{
		Version:    a.opts.Version,
		PID:        os.Getpid(),
		Home:       a.opts.Home,
		Address:    a.opts.Address,
		Network:    a.opts.Network,
		StartedAt:  api.Time{Time: a.opts.Started().UTC().Truncate(time.Second)},
		MetricsURL: a.opts.MetricsURL(),
	}
	for key, failed := range a.services.ProxyFailures() {
		for np, why := range failed {
			info.NotServing = append(info.NotServing, server.PortProblem{Namespace: key.Namespace, Name: key.Name, NodePort: np, Error: why})
		}
	}
	return info, nil
}

// Down deletes every object and every pod, waits for the pods to stop,
// removes the network, and then tells the host (OnDown) to exit. Owners go
// before what they own: the stored kinds in the registry's reverse order.
func (a *API) Down(ctx context.Context) error {
	kinds := api.Kinds(api.Stored)
	slices.Reverse(kinds)
	for _, k := range kinds {
		objs, err := a.store.List(k.Kind, "")
		if err != nil {
			return err
		}
		for _, obj := range objs {
			if _, err := a.store.Delete(api.KeyOf(obj), ""); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	a.pods.StopAll(ctx)
	a.services.StopAllProxies()
	a.pods.RemoveNetwork(ctx)
	if a.opts.OnDown != nil {
		go a.opts.OnDown()
	}
	return nil
}

func nsOrDefault(ns string) string {
	if ns == "" {
		return api.DefaultNamespace
	}
	return ns
}
