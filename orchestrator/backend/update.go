package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"net"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// Update replaces the desired state of a stored object with obj's: its spec,
// labels and annotations, as `kubectl replace`, `edit`, `patch`, `label` and
// `annotate` do. uid, creation time, status, allocated node ports and the
// annotations controllers own are kept, as by an apply. A resourceVersion in
// obj is a precondition: when the object changed since, the update fails
// with a conflict and nothing is written.
func (a *API) Update(ctx context.Context, obj api.Object) (api.Object, error) {
	kind := obj.GetTypeMeta().Kind
	if info, ok := api.InfoOf(kind); !ok || !info.Manifest {
		return nil, fmt.Errorf("%s %q cannot be updated: only replicationcontrollers, replicasets, deployments and services can", kind, obj.Meta().Name)
	}
	obj = obj.DeepCopy()
	rv := obj.Meta().ResourceVersion
	api.ClearServerFields(obj)
	api.SetDefaults(obj)
	if err := api.Validate(obj); err != nil {
		return nil, err
	}
	var updated api.Object
	reserved := map[int32]net.Listener{}
	err := a.store.Txn(func(tx *store.Tx) error {
		existing, err := tx.Get(api.KeyOf(obj))
		if err != nil {
			return err
		}
		services, err := tx.List(api.KindService, "")
		if err != nil {
			return err
		}
		var others []*api.Service
		for _, s := range services {
			if api.KeyOf(s) != api.KeyOf(obj) {
				others = append(others, s.(*api.Service))
			}
		}
		merged, err := a.mergeApply(existing, obj, others, server.ApplyOptions{}, reserved)
		if err != nil {
			return err
		}
		merged.Meta().ResourceVersion = rv
		updated, err = tx.Update(merged)
		return err
	})
	if err != nil {
		a.release(reserved)
		return nil, err
	}
	a.warnMissingImages(ctx, updated)
	if kind == api.KindService {
		if _, err := a.services.SyncService(ctx, api.KeyOf(updated)); err != nil {
			a.log.Warn("service sync after update", "service", updated.Meta().Name, "error", err)
		}
	}
	return updated, nil
}

// Diff answers what Apply would do to each object, without doing it: the
// object as stored (none when the apply would create it) and the object the
// apply would store, as a server-side dry run shows them, for `diff`.
func (a *API) Diff(ctx context.Context, objs []api.Object) ([]server.DiffResult, error) {
	var out []server.DiffResult
	var encodeErr error
	seen := func(live, next api.Object) {
		next = next.DeepCopy()
		r := server.DiffResult{Kind: next.GetTypeMeta().Kind, Namespace: api.KeyOf(next).Namespace, Name: next.Meta().Name}
		if live != nil {
			m, lm := next.Meta(), live.Meta()
			m.ResourceVersion, m.Generation = lm.ResourceVersion, lm.Generation
			if specOf(live) != specOf(next) {
				m.Generation++
			}
			r.Live, encodeErr = json.Marshal(live)
		}
		if encodeErr == nil {
			r.Merged, encodeErr = json.Marshal(next)
		}
		out = append(out, r)
	}
	if _, err := a.apply(ctx, objs, server.ApplyOptions{DryRun: true}, seen); err != nil {
		return nil, err
	}
	if encodeErr != nil {
		return nil, fmt.Errorf("diff: encode: %w", encodeErr)
	}
	return out, nil
}

// specOf is obj's spec as JSON text, to tell a spec change.
func specOf(obj api.Object) string {
	var m map[string]json.RawMessage
	raw, err := json.Marshal(obj)
	if err != nil || json.Unmarshal(raw, &m) != nil {
		return ""
	}
	return string(m["spec"])
}
