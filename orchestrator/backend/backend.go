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
	"maps"
	"net"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/deployment"
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
	Exec(ctx context.Context, namespace, name string, command []string) (server.ExecResult, error)
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
// plane.
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

// errDryRun aborts a dry-run apply's transaction after every check passed.
var errDryRun = errors.New("dry run")

// Apply creates or updates every object in one transaction, kubectl-apply
// style: the manifest's spec, labels and annotations replace the stored
// ones; uid, creation time, status, allocated node ports and the annotations
// controllers own are kept.
func (a *API) Apply(ctx context.Context, objs []api.Object, opts server.ApplyOptions) ([]server.ApplyResult, error) {
	// Each manifest as the user wrote it, before defaults: what the next
	// apply merges against (apply_merge.go).
	cfgs := make([]map[string]any, len(objs))
	for i, obj := range objs {
		api.ClearServerFields(obj)
		cfg, err := appliedConfig(obj)
		if err != nil {
			return nil, err
		}
		cfgs[i] = cfg
		api.SetDefaults(obj)
	}
	if err := api.ValidateApply(objs); err != nil {
		return nil, err
	}
	for _, obj := range objs {
		if info, ok := api.InfoOf(obj.GetTypeMeta().Kind); !ok || !info.Manifest {
			return nil, fmt.Errorf("%s %q: kind %s cannot be applied; supported kinds are ReplicationController, ReplicaSet, Deployment and Service", obj.GetTypeMeta().Kind, obj.Meta().Name, obj.GetTypeMeta().Kind)
		}
		if err := api.Validate(obj); err != nil {
			return nil, err
		}
	}
	var results []server.ApplyResult
	reserved := map[int32]net.Listener{}
	err := a.store.Txn(func(tx *store.Tx) error {
		results = results[:0]
		var services []*api.Service
		stored, err := tx.List(api.KindService, "")
		if err != nil {
			return err
		}
		for _, s := range stored {
			services = append(services, s.(*api.Service))
		}
		for i, obj := range objs {
			key := api.KeyOf(obj)
			res := server.ApplyResult{Kind: key.Kind, Namespace: key.Namespace, Name: key.Name}
			existing, err := tx.Get(key)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if existing == nil {
				if err := setLastApplied(obj, cfgs[i]); err != nil {
					return err
				}
				if err := a.prepareNew(obj, services, opts, reserved); err != nil {
					return err
				}
				if _, err := tx.Create(obj); err != nil {
					return err
				}
				res.Action = "created"
			} else {
				applied, err := mergeApplied(existing, cfgs[i])
				if err != nil {
					return err
				}
				api.SetDefaults(applied)
				if err := api.Validate(applied); err != nil {
					if src, ok := api.SourceOf(obj); ok {
						err = fmt.Errorf("%s: %w", src, err)
					}
					return err
				}
				merged, err := a.mergeApply(existing, applied, services, opts, reserved)
				if err != nil {
					return err
				}
				if sameDesired(existing, merged) {
					res.Action = "unchanged"
				} else {
					if _, err := tx.Update(merged); err != nil {
						return err
					}
					res.Action = "configured"
				}
			}
			if svc, ok := obj.(*api.Service); ok {
				services = append(services, svc)
			}
			results = append(results, res)
		}
		if opts.DryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil || opts.DryRun {
		a.services.Release(reserved)
	}
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, err
	}
	if !opts.DryRun {
		// Services listen before apply returns, so the URL it leads to
		// answers at once.
		for _, obj := range objs {
			if obj.GetTypeMeta().Kind == api.KindService {
				if _, err := a.services.SyncService(ctx, api.KeyOf(obj)); err != nil {
					a.log.Warn("service sync after apply", "service", obj.Meta().Name, "error", err)
				}
			}
		}
	}
	return results, nil
}

func (a *API) prepareNew(obj api.Object, services []*api.Service, opts server.ApplyOptions, reserved map[int32]net.Listener) error {
	switch v := obj.(type) {
	case *api.Service:
		if err := a.services.AllocateNodePorts(v, nil, services, reserved); err != nil {
			return err
		}
		if v.Spec.ClusterIP == "" {
			v.Spec.ClusterIP = a.opts.Address
		}
	case *api.Deployment:
		if opts.ChangeCause != "" {
			if v.Annotations == nil {
				v.Annotations = map[string]string{}
			}
			v.Annotations[api.AnnotationChangeCause] = opts.ChangeCause
		}
	}
	return nil
}

// controllerAnnotations are written by controllers, not by manifests, and
// survive an apply.
func controllerAnnotation(k string) bool {
	return strings.HasPrefix(k, "deployment.kubernetes.io/")
}

func (a *API) mergeApply(existing, applied api.Object, services []*api.Service, opts server.ApplyOptions, reserved map[int32]net.Listener) (api.Object, error) {
	merged := applied.DeepCopy()
	m, em := merged.Meta(), existing.Meta()
	m.UID, m.CreationTimestamp, m.ResourceVersion = em.UID, em.CreationTimestamp, ""
	m.OwnerReferences = em.OwnerReferences
	for k, v := range em.Annotations {
		if controllerAnnotation(k) {
			if m.Annotations == nil {
				m.Annotations = map[string]string{}
			}
			m.Annotations[k] = v
		}
	}
	switch v := merged.(type) {
	case *api.Service:
		old := existing.(*api.Service)
		if err := a.services.AllocateNodePorts(v, old, services, reserved); err != nil {
			return nil, err
		}
		if v.Spec.ClusterIP == "" {
			v.Spec.ClusterIP = old.Spec.ClusterIP
		}
		v.Status = old.Status
	case *api.Deployment:
		old := existing.(*api.Deployment)
		if !reflect.DeepEqual(old.Spec.Selector, v.Spec.Selector) {
			return nil, fieldImmutable(v, "spec.selector", v.Spec.Selector)
		}
		if opts.ChangeCause != "" {
			if v.Annotations == nil {
				v.Annotations = map[string]string{}
			}
			v.Annotations[api.AnnotationChangeCause] = opts.ChangeCause
		}
		v.Status = old.Status
	case *api.ReplicaSet:
		old := existing.(*api.ReplicaSet)
		if !reflect.DeepEqual(old.Spec.Selector, v.Spec.Selector) {
			return nil, fieldImmutable(v, "spec.selector", v.Spec.Selector)
		}
		v.Status = old.Status
	case *api.ReplicationController:
		v.Status = existing.(*api.ReplicationController).Status
	}
	return merged, nil
}

func fieldImmutable(obj api.Object, path string, value any) error {
	b, _ := json.Marshal(value)
	return fmt.Errorf("%s %q is invalid: %s: Invalid value: %s: field is immutable", obj.GetTypeMeta().Kind, obj.Meta().Name, path, b)
}

// sameDesired compares what an apply may change: spec, labels, annotations.
func sameDesired(a, b api.Object) bool {
	type desired struct {
		Labels      map[string]string
		Annotations map[string]string
		Spec        json.RawMessage
	}
	view := func(obj api.Object) desired {
		var m map[string]json.RawMessage
		raw, _ := json.Marshal(obj)
		_ = json.Unmarshal(raw, &m)
		return desired{obj.Meta().Labels, obj.Meta().Annotations, m["spec"]}
	}
	va, vb := view(a), view(b)
	return maps.Equal(va.Labels, vb.Labels) && maps.Equal(va.Annotations, vb.Annotations) && string(va.Spec) == string(vb.Spec)
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
	changes := a.store.Watch(ctx)
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
	return a.updateSpec(kind, namespace, name, "", func(obj api.Object) error {
		var t *api.PodTemplateSpec
		switch v := obj.(type) {
		case *api.Deployment:
			t = &v.Spec.Template
		case *api.ReplicaSet:
			t = &v.Spec.Template
		case *api.ReplicationController:
			t = v.Spec.Template
		}
		if t == nil {
			return fmt.Errorf("%s %q has no pod template", strings.ToLower(kind), name)
		}
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
	})
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
func (a *API) Exec(ctx context.Context, namespace, name string, command []string) (server.ExecResult, error) {
	return a.pods.Exec(ctx, nsOrDefault(namespace), name, command)
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

// Rollout performs a `rollout` verb on a Deployment.
func (a *API) Rollout(ctx context.Context, req server.RolloutRequest) (server.RolloutResponse, error) {
	ns := nsOrDefault(req.Namespace)
	key := api.Key{Kind: api.KindDeployment, Namespace: ns, Name: req.Name}
	obj, err := a.store.Get(key)
	if err != nil {
		return server.RolloutResponse{}, err
	}
	d := obj.(*api.Deployment)
	var resp server.RolloutResponse
	switch req.Action {
	case server.RolloutStatus:
		if msg := a.rolledBackSince(ctx, d, req.Since); msg != "" {
			return server.RolloutResponse{Message: msg, Failed: true}, nil
		}
		msg, done, err := deployment.RolloutStatus(d)
		if err != nil {
			return server.RolloutResponse{Message: err.Error(), Failed: true}, nil
		}
		resp.Message, resp.Done = msg, done
	case server.RolloutHistory:
		revs, err := deployment.History(a.store, ns, req.Name)
		if err != nil {
			return resp, err
		}
		for _, r := range revs {
			if req.Revision != 0 && r.Revision != req.Revision {
				continue
			}
			resp.History = append(resp.History, server.RevisionInfo{Revision: r.Revision, ChangeCause: r.ChangeCause, ReplicaSet: r.ReplicaSet, Images: imagesOf(&r.Template)})
			if req.Revision != 0 {
				t := r.Template
				resp.Template = &t
			}
		}
		if req.Revision != 0 && resp.Template == nil {
			return resp, fmt.Errorf("unable to find the specified revision %d", req.Revision)
		}
	case server.RolloutUndo:
		if _, err := deployment.Rollback(a.store, ns, req.Name, req.Revision); err != nil {
			if errors.Is(err, deployment.ErrRollbackSkipped) {
				// Nothing to do is not a failure: kubectl says so and exits 0.
				resp.Message = fmt.Sprintf("deployment.apps/%s %v", req.Name, err)
				return resp, nil
			}
			return resp, err
		}
		resp.Message = fmt.Sprintf("deployment.apps/%s rolled back", req.Name)
	case server.RolloutPause, server.RolloutResume:
		pause := req.Action == server.RolloutPause
		if d.Spec.Paused == pause {
			resp.Message = fmt.Sprintf("deployment.apps/%s is already %sd", req.Name, req.Action)
			if !pause {
				return resp, fmt.Errorf("deployments.apps %q is not paused", req.Name)
			}
			return resp, fmt.Errorf("deployments.apps %q is already paused", req.Name)
		}
		if _, err := a.updateSpec(api.KindDeployment, ns, req.Name, "", func(obj api.Object) error {
			obj.(*api.Deployment).Spec.Paused = pause
			return nil
		}); err != nil {
			return resp, err
		}
		resp.Message = fmt.Sprintf("deployment.apps/%s %sd", req.Name, req.Action)
	case server.RolloutRestart:
		if d.Spec.Paused {
			return resp, fmt.Errorf("deployments.apps %q can't restart paused deployment (run rollout resume first)", req.Name)
		}
		if _, err := a.updateSpec(api.KindDeployment, ns, req.Name, "", func(obj api.Object) error {
			t := &obj.(*api.Deployment).Spec.Template
			if t.Annotations == nil {
				t.Annotations = map[string]string{}
			}
			t.Annotations[api.AnnotationRestartedAt] = time.Now().UTC().Format(time.RFC3339)
			return nil
		}); err != nil {
			return resp, err
		}
		resp.Message = fmt.Sprintf("deployment.apps/%s restarted", req.Name)
	case server.RolloutPlan:
		rss, err := a.deploymentReplicaSets(d)
		if err != nil {
			return resp, err
		}
		t := api.Copy(&d.Spec.Template)
		for cname, image := range req.Images {
			found := false
			for i := range t.Spec.Containers {
				if cname == "*" || t.Spec.Containers[i].Name == cname {
					t.Spec.Containers[i].Image, found = image, true
				}
			}
			if !found {
				return resp, fmt.Errorf("unable to find container named %q", cname)
			}
		}
		steps, err := deployment.Plan(d, rss, t, req.Replicas)
		if err != nil {
			return resp, err
		}
		for _, s := range steps {
			resp.Plan = append(resp.Plan, server.PlanStep{Step: s.Step, Action: s.Action, Old: s.Old, New: s.New, Available: s.Available, Total: s.Total})
		}
	default:
		return resp, fmt.Errorf("unknown rollout action %q: use status, history, undo, pause, resume, restart or plan", req.Action)
	}
	return resp, nil
}

// rolledBackSince says why d rolled itself back after since, if it did: the
// rollout a user is watching failed, though the Deployment is complete again
// on its previous revision.
func (a *API) rolledBackSince(ctx context.Context, d *api.Deployment, since time.Time) string {
	if since.IsZero() {
		return ""
	}
	events, err := a.Events(ctx, api.KeyOf(d).Namespace, &api.ObjectReference{Kind: api.KindDeployment, Name: d.Name, UID: d.UID})
	if err != nil {
		return ""
	}
	// Event times have whole seconds.
	since = since.Truncate(time.Second)
	for _, e := range events {
		if e.Reason == deployment.ReasonRolledBack && !e.LastTimestamp.Before(since) {
			return fmt.Sprintf("deployment %q exceeded its progress deadline and rolled back: %s", d.Name, e.Message)
		}
	}
	return ""
}

func (a *API) deploymentReplicaSets(d *api.Deployment) ([]*api.ReplicaSet, error) {
	objs, err := a.store.List(api.KindReplicaSet, api.KeyOf(d).Namespace)
	if err != nil {
		return nil, err
	}
	var out []*api.ReplicaSet
	for _, obj := range objs {
		if api.OwnedBy(obj, d.UID) {
			out = append(out, obj.(*api.ReplicaSet))
		}
	}
	return out, nil
}

func imagesOf(t *api.PodTemplateSpec) []string {
	var out []string
	for _, c := range t.Spec.Containers {
		out = append(out, c.Image)
	}
	return out
}

// RollingUpdate starts the legacy rolling update of one
// ReplicationController into another, or returns the one already running.
func (a *API) RollingUpdate(ctx context.Context, namespace string, spec api.RollingUpdateSpec) (*api.RollingUpdate, error) {
	ns := nsOrDefault(namespace)
	key := api.Key{Kind: api.KindRollingUpdate, Namespace: ns, Name: spec.From}
	if obj, err := a.store.Get(key); err == nil {
		ru := obj.(*api.RollingUpdate)
		if ru.Status.Phase == api.RollingUpdateRunning {
			return ru, nil
		}
		if _, err := a.store.Delete(key, ""); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	if spec.From == "" || spec.To == "" {
		return nil, errors.New("rolling-update needs the old and the new replicationcontroller's names")
	}
	if spec.From == spec.To {
		return nil, fmt.Errorf("the new replicationcontroller's name must differ from the old one's (%q)", spec.From)
	}
	if spec.UpdatePeriod != "" {
		if _, err := time.ParseDuration(spec.UpdatePeriod); err != nil {
			return nil, fmt.Errorf("invalid update period %q: %w", spec.UpdatePeriod, err)
		}
	}
	if _, err := a.store.Get(api.Key{Kind: api.KindReplicationController, Namespace: ns, Name: spec.From}); err != nil {
		return nil, err
	}
	if _, err := a.store.Get(api.Key{Kind: api.KindReplicationController, Namespace: ns, Name: spec.To}); err == nil {
		return nil, fmt.Errorf("replicationcontroller %q already exists: pick a new name for the updated controller", spec.To)
	}
	ru := &api.RollingUpdate{
		TypeMeta:   api.TypeMeta{APIVersion: "mini-deploy.io/v1", Kind: api.KindRollingUpdate},
		ObjectMeta: api.ObjectMeta{Name: spec.From, Namespace: ns},
		Spec:       spec,
		Status:     api.RollingUpdateStatus{Phase: api.RollingUpdateRunning},
	}
	created, err := a.store.Create(ru)
	if err != nil {
		return nil, err
	}
	return created.(*api.RollingUpdate), nil
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
