package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"reflect"
	"strings"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// errDryRun aborts a dry-run apply's transaction after every check passed.
var errDryRun = errors.New("dry run")

// Apply creates or updates every object in one transaction, kubectl-apply
// style: the manifest's spec, labels and annotations replace the stored
// ones; uid, creation time, status, allocated node ports and the annotations
// controllers own are kept.
func (a *API) Apply(ctx context.Context, objs []api.Object, opts server.ApplyOptions) ([]server.ApplyResult, error) {
	return a.apply(ctx, objs, opts, nil)
}

// apply is Apply; seen, when not nil, is shown each object as it is stored
// (live, nil for a new one) and as the apply makes it (next), inside the
// transaction, before anything is written.
func (a *API) apply(ctx context.Context, objs []api.Object, opts server.ApplyOptions, seen func(live, next api.Object)) ([]server.ApplyResult, error) {
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
				if seen != nil {
					seen(nil, obj)
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
				if seen != nil {
					seen(existing, merged)
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
		a.release(reserved)
	}
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, err
	}
	if seen == nil {
		a.warnMissingImages(ctx, objs...)
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

// release gives back the node ports an apply held and did not keep.
func (a *API) release(reserved map[int32]net.Listener) {
	if len(reserved) > 0 {
		a.services.Release(reserved)
	}
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
