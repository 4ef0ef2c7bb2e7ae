package node

import (
	"context"
	"errors"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// Deleter is the garbage collector's part of Kubernetes that
// mini-deploy needs: deleting an object deletes what it owns. The API layer
// uses it for `delete`, the rolling-update controller for the old
// controller it replaced.
type Deleter struct {
	store *store.Store
	pods  *podCache
	node  *Agent
}

// NewDeleter returns the deleter of a control plane whose pods n runs.
func NewDeleter(st *store.Store, n *Agent) *Deleter {
	return &Deleter{store: st, pods: n.pods, node: n}
}

// Delete removes an object from the store, with its dependents: a
// Deployment's ReplicaSets (or, with cascade orphan, it leaves them without
// an owner), a workload's pods, which the node agent stops by the
// termination protocol. With cascade foreground it returns once they are gone.
func (c *Deleter) Delete(ctx context.Context, key api.Key, cascade string) (api.Object, error) {
	obj, err := c.store.Get(key)
	if err != nil {
		return nil, err
	}
	var dependents []*api.ReplicaSet
	if key.Kind == api.KindDeployment {
		rss, err := c.store.List(api.KindReplicaSet, key.Namespace)
		if err != nil {
			return nil, err
		}
		for _, r := range rss {
			if api.OwnedBy(r, obj.Meta().UID) {
				dependents = append(dependents, r.(*api.ReplicaSet))
			}
		}
	}
	var pods []*pod
	if key.Kind == api.KindReplicaSet || key.Kind == api.KindReplicationController {
		pods = c.podsOwnedBy(obj.Meta().UID)
	}
	err = c.store.Txn(func(tx *store.Tx) error {
		if _, err := tx.Delete(key, ""); err != nil {
			return err
		}
		for _, rs := range dependents {
			if cascade == "orphan" {
				rs.OwnerReferences = nil
				rs.ResourceVersion = ""
				if _, err := tx.Update(rs); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.Delete(api.KeyOf(rs), ""); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if cascade == "orphan" {
		return obj, nil
	}
	for _, rs := range dependents {
		pods = append(pods, c.podsOwnedBy(rs.UID)...)
	}
	var dones []<-chan struct{}
	for _, p := range pods {
		dones = append(dones, c.node.terminatePod(p, nil))
	}
	if cascade == "foreground" {
		for _, d := range dones {
			waitDone(ctx, d)
		}
	}
	return obj, nil
}

func (c *Deleter) podsOwnedBy(uid string) []*pod {
	var out []*pod
	for _, p := range c.pods.snapshot() {
		if p.ownerUID == uid {
			out = append(out, p)
		}
	}
	return out
}

func waitDone(ctx context.Context, done <-chan struct{}) {
	select {
	case <-done:
	case <-ctx.Done():
	}
}
