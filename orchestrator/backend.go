package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/deployment"
	"github.com/mini-deploy/mini-deploy/orchestrator/labels"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// The Orchestrator is the API server's backend: every CLI verb lands here.
var _ server.Backend = (*Orchestrator)(nil)

// errDryRun aborts a dry-run apply's transaction after every check passed.
var errDryRun = errors.New("dry run")

func notFound(kind, name string) error {
	return fmt.Errorf("%s %q %w", api.Resource(kind), name, store.ErrNotFound)
}

// Apply creates or updates every object in one transaction, kubectl-apply
// style: the manifest's spec, labels and annotations replace the stored
// ones; uid, creation time, status, allocated node ports and the annotations
// controllers own are kept.
func (o *Orchestrator) Apply(ctx context.Context, objs []api.Object, opts server.ApplyOptions) ([]server.ApplyResult, error) {
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
		switch obj.GetTypeMeta().Kind {
		case api.KindReplicationController, api.KindReplicaSet, api.KindDeployment, api.KindService:
		default:
			return nil, fmt.Errorf("%s %q: kind %s cannot be applied; supported kinds are ReplicationController, ReplicaSet, Deployment and Service", obj.GetTypeMeta().Kind, obj.Meta().Name, obj.GetTypeMeta().Kind)
		}
		if err := api.Validate(obj); err != nil {
			return nil, err
		}
	}
	var results []server.ApplyResult
	reserved := map[int32]net.Listener{}
	err := o.store.Txn(func(tx *store.Tx) error {
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
				if err := o.prepareNew(obj, services, opts, reserved); err != nil {
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
				merged, err := o.mergeApply(existing, applied, services, opts, reserved)
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
		o.dataplane.release(reserved)
	}
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, err
	}
	if !opts.DryRun {
		// Services listen before apply returns, so the URL it leads to
		// answers at once.
		for _, obj := range objs {
			if obj.GetTypeMeta().Kind == api.KindService {
				if _, err := o.dataplane.syncService(ctx, api.KeyOf(obj)); err != nil {
					o.log.Warn("service sync after apply", "service", obj.Meta().Name, "error", err)
				}
			}
		}
	}
	return results, nil
}

func (o *Orchestrator) prepareNew(obj api.Object, services []*api.Service, opts server.ApplyOptions, reserved map[int32]net.Listener) error {
	switch v := obj.(type) {
	case *api.Service:
		if err := o.dataplane.allocateNodePorts(v, nil, services, reserved); err != nil {
			return err
		}
		if v.Spec.ClusterIP == "" {
			v.Spec.ClusterIP = o.opts.Address
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

func (o *Orchestrator) mergeApply(existing, applied api.Object, services []*api.Service, opts server.ApplyOptions, reserved map[int32]net.Listener) (api.Object, error) {
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
		if err := o.dataplane.allocateNodePorts(v, old, services, reserved); err != nil {
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
func (o *Orchestrator) Get(ctx context.Context, kind, namespace, name string) (api.Object, error) {
	namespace = nsOrDefault(namespace)
	switch kind {
	case api.KindPod:
		p, ok := o.pods.get(namespace, name)
		if !ok {
			return nil, notFound(kind, name)
		}
		return o.node.podView(p), nil
	case api.KindEndpoints:
		obj, err := o.store.Get(api.Key{Kind: api.KindService, Namespace: namespace, Name: name})
		if err != nil {
			return nil, notFound(kind, name)
		}
		return o.dataplane.endpointsView(obj.(*api.Service)), nil
	}
	return o.store.Get(api.Key{Kind: kind, Namespace: namespace, Name: name})
}

// List returns the objects of kind matching a label selector string.
func (o *Orchestrator) List(ctx context.Context, kind, namespace, selector string) ([]api.Object, error) {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, fmt.Errorf("invalid label selector %q: %w", selector, err)
	}
	var out []api.Object
	switch kind {
	case api.KindPod:
		for _, p := range o.pods.snapshot() {
			if (namespace == "" || p.namespace == namespace) && sel.Matches(p.labels) {
				out = append(out, o.node.podView(p))
			}
		}
		return out, nil
	case api.KindEndpoints:
		svcs, err := o.store.List(api.KindService, namespace)
		if err != nil {
			return nil, err
		}
		for _, s := range svcs {
			if sel.Matches(s.Meta().Labels) {
				out = append(out, o.dataplane.endpointsView(s.(*api.Service)))
			}
		}
		return out, nil
	}
	objs, err := o.store.List(kind, namespace)
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
func (o *Orchestrator) Watch(ctx context.Context, kind, namespace, selector string) (<-chan server.WatchEvent, error) {
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
				objs, _ := o.List(ctx, kind, namespace, selector)
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
				if !sleep(ctx, 200*time.Millisecond) {
					return
				}
			}
		}()
		return out, nil
	}
	changes := o.store.Watch(ctx)
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
func (o *Orchestrator) Delete(ctx context.Context, kind, namespace, name string, opts server.DeleteOptions) (api.Object, error) {
	key := api.Key{Kind: kind, Namespace: nsOrDefault(namespace), Name: name}
	if kind == api.KindPod {
		p, ok := o.pods.get(key.Namespace, name)
		if !ok {
			return nil, notFound(kind, name)
		}
		view := o.node.podView(p)
		grace := gracePeriod(p)
		if g := opts.GracePeriodSeconds; g != nil {
			grace = time.Duration(*g) * time.Second
		}
		done := o.node.terminatePodWithin(p, nil, grace)
		if opts.Cascade == "foreground" {
			waitDone(ctx, done)
		}
		return view, nil
	}
	return o.deleter.delete(ctx, key, opts.Cascade)
}

// Scale sets spec.replicas of a workload.
func (o *Orchestrator) Scale(ctx context.Context, kind, namespace, name string, replicas int32) (api.Object, error) {
	if replicas < 0 {
		return nil, fmt.Errorf("%s %q: replicas must be greater than or equal to 0, got %d", strings.ToLower(kind), name, replicas)
	}
	return o.updateSpec(kind, namespace, name, "", func(obj api.Object) error {
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
func (o *Orchestrator) updateSpec(kind, namespace, name, resourceVersion string, change func(api.Object) error) (api.Object, error) {
	obj, err := o.store.Get(api.Key{Kind: kind, Namespace: nsOrDefault(namespace), Name: name})
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
	return o.store.Update(obj)
}

// SetImage changes container images of a workload's template.
func (o *Orchestrator) SetImage(ctx context.Context, kind, namespace, name string, images map[string]string) (api.Object, error) {
	return o.updateSpec(kind, namespace, name, "", func(obj api.Object) error {
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
func (o *Orchestrator) SetSelector(ctx context.Context, namespace, name string, selector map[string]string, resourceVersion string) (api.Object, error) {
	obj, err := o.updateSpec(api.KindService, namespace, name, resourceVersion, func(obj api.Object) error {
		obj.(*api.Service).Spec.Selector = selector
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := o.dataplane.syncService(ctx, api.KeyOf(obj)); err != nil {
		o.log.Warn("service sync after set selector", "service", name, "error", err)
	}
	return obj, nil
}

// Logs streams a pod's container output.
func (o *Orchestrator) Logs(ctx context.Context, namespace, name string, opts server.LogOptions) (io.ReadCloser, error) {
	p, ok := o.pods.get(nsOrDefault(namespace), name)
	if !ok {
		return nil, notFound(api.KindPod, name)
	}
	if p.container.ID == "" {
		return nil, fmt.Errorf("container of pod %q is waiting to start: %s", name, p.waiting)
	}
	return o.rt.Logs(ctx, p.container.ID, rt.LogOptions{Follow: opts.Follow, Tail: opts.Tail, Timestamps: opts.Timestamps})
}

// Exec runs command in the pod's container, terminating or not. A pod whose
// container is not running is an error that says so; a command that cannot start is not: the
// engine reports it as output and exit code 126 or 127, as docker exec does.
func (o *Orchestrator) Exec(ctx context.Context, namespace, name string, command []string) (server.ExecResult, error) {
	p, ok := o.pods.get(nsOrDefault(namespace), name)
	if !ok {
		return server.ExecResult{}, notFound(api.KindPod, name)
	}
	// A terminating pod still runs while it drains: exec is allowed, as in
	// Kubernetes, and is how one looks at a pod that is slow to stop.
	if !p.running() {
		why := "not running"
		if p.waiting != "" {
			why = "waiting (" + p.waiting + ")"
		}
		return server.ExecResult{}, fmt.Errorf("cannot exec in pod %q: its container is %s", name, why)
	}
	res, err := o.rt.Exec(ctx, p.container.ID, command)
	if err != nil {
		return server.ExecResult{}, fmt.Errorf("exec in pod %q: %w", name, err)
	}
	return server.ExecResult{ExitCode: res.ExitCode, Output: res.Output}, nil
}

// Events lists events, oldest first.
func (o *Orchestrator) Events(ctx context.Context, namespace string, ref *api.ObjectReference) ([]*api.Event, error) {
	objs, err := o.store.List(api.KindEvent, namespace)
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
		return revision(a) < revision(b)
	})
	return out, nil
}

// Rollout performs a `rollout` verb on a Deployment.
func (o *Orchestrator) Rollout(ctx context.Context, req server.RolloutRequest) (server.RolloutResponse, error) {
	ns := nsOrDefault(req.Namespace)
	key := api.Key{Kind: api.KindDeployment, Namespace: ns, Name: req.Name}
	obj, err := o.store.Get(key)
	if err != nil {
		return server.RolloutResponse{}, err
	}
	d := obj.(*api.Deployment)
	var resp server.RolloutResponse
	switch req.Action {
	case server.RolloutStatus:
		if msg := o.rolledBackSince(ctx, d, req.Since); msg != "" {
			return server.RolloutResponse{Message: msg, Failed: true}, nil
		}
		msg, done, err := deployment.RolloutStatus(d)
		if err != nil {
			return server.RolloutResponse{Message: err.Error(), Failed: true}, nil
		}
		resp.Message, resp.Done = msg, done
	case server.RolloutHistory:
		revs, err := deployment.History(o.store, ns, req.Name)
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
		if _, err := deployment.Rollback(o.store, ns, req.Name, req.Revision); err != nil {
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
		if _, err := o.updateSpec(api.KindDeployment, ns, req.Name, "", func(obj api.Object) error {
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
		if _, err := o.updateSpec(api.KindDeployment, ns, req.Name, "", func(obj api.Object) error {
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
		rss, err := o.deploymentReplicaSets(d)
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
func (o *Orchestrator) rolledBackSince(ctx context.Context, d *api.Deployment, since time.Time) string {
	if since.IsZero() {
		return ""
	}
	events, err := o.Events(ctx, api.KeyOf(d).Namespace, &api.ObjectReference{Kind: api.KindDeployment, Name: d.Name, UID: d.UID})
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

func (o *Orchestrator) deploymentReplicaSets(d *api.Deployment) ([]*api.ReplicaSet, error) {
	objs, err := o.store.List(api.KindReplicaSet, api.KeyOf(d).Namespace)
	if err != nil {
		return nil, err
	}
	var out []*api.ReplicaSet
	for _, obj := range objs {
		if ownedBy(obj, d.UID) {
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
func (o *Orchestrator) RollingUpdate(ctx context.Context, namespace string, spec api.RollingUpdateSpec) (*api.RollingUpdate, error) {
	ns := nsOrDefault(namespace)
	key := api.Key{Kind: api.KindRollingUpdate, Namespace: ns, Name: spec.From}
	if obj, err := o.store.Get(key); err == nil {
		ru := obj.(*api.RollingUpdate)
		if ru.Status.Phase == api.RollingUpdateRunning {
			return ru, nil
		}
		if _, err := o.store.Delete(key, ""); err != nil && !errors.Is(err, store.ErrNotFound) {
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
	if _, err := o.store.Get(api.Key{Kind: api.KindReplicationController, Namespace: ns, Name: spec.From}); err != nil {
		return nil, err
	}
	if _, err := o.store.Get(api.Key{Kind: api.KindReplicationController, Namespace: ns, Name: spec.To}); err == nil {
		return nil, fmt.Errorf("replicationcontroller %q already exists: pick a new name for the updated controller", spec.To)
	}
	ru := &api.RollingUpdate{
		TypeMeta:   api.TypeMeta{APIVersion: "mini-deploy.io/v1", Kind: api.KindRollingUpdate},
		ObjectMeta: api.ObjectMeta{Name: spec.From, Namespace: ns},
		Spec:       spec,
		Status:     api.RollingUpdateStatus{Phase: api.RollingUpdateRunning},
	}
	created, err := o.store.Create(ru)
	if err != nil {
		return nil, err
	}
	return created.(*api.RollingUpdate), nil
}

// Info describes this control plane.
func (o *Orchestrator) Info(ctx context.Context) (server.Info, error) {
	info := server.Info{
		Version:   o.opts.Version,
		PID:       os.Getpid(),
		Home:      o.opts.Home,
		Address:   o.opts.Address,
		Network:   o.opts.Network,
		StartedAt: api.Time{Time: o.started.UTC().Truncate(time.Second)},
	}
	if o.metrics.addr != "" {
		info.MetricsURL = "http://" + o.metrics.addr + "/metrics"
	}
	for key, failed := range o.dataplane.proxyFailures() {
		for np, why := range failed {
			info.NotServing = append(info.NotServing, server.PortProblem{Namespace: key.Namespace, Name: key.Name, NodePort: np, Error: why})
		}
	}
	return info, nil
}

// Down deletes every object and every pod, waits for the pods to stop,
// removes the network, and then tells the host (OnDown) to exit.
func (o *Orchestrator) Down(ctx context.Context) error {
	for _, kind := range []string{api.KindRollingUpdate, api.KindDeployment, api.KindReplicaSet, api.KindReplicationController, api.KindService, api.KindEvent, api.KindPodRecord} {
		for _, obj := range o.listAll(kind) {
			if _, err := o.store.Delete(api.KeyOf(obj), ""); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	var wg sync.WaitGroup
	for _, p := range o.pods.snapshot() {
		done := o.node.terminatePod(p, nil)
		wg.Add(1)
		go func() { defer wg.Done(); waitDone(ctx, done) }()
	}
	wg.Wait()
	// Containers this instance made that the cache never knew (a crash
	// between create and record) go too.
	if ctrs, err := o.rt.List(ctx, map[string]string{LabelInstance: o.opts.Instance}); err == nil {
		for _, c := range ctrs {
			_ = o.rt.Remove(ctx, c.ID)
		}
	}
	o.dataplane.stopAllProxies()
	if err := o.rt.RemoveNetwork(ctx, o.opts.Network); err != nil && !errors.Is(err, rt.ErrNotFound) {
		o.log.Warn("remove network", "network", o.opts.Network, "error", err)
	}
	if o.opts.OnDown != nil {
		go o.opts.OnDown()
	}
	return nil
}

func revision(obj api.Object) uint64 {
	n, _ := strconv.ParseUint(obj.Meta().ResourceVersion, 10, 64)
	return n
}

func nsOrDefault(ns string) string {
	if ns == "" {
		return api.DefaultNamespace
	}
	return ns
}
