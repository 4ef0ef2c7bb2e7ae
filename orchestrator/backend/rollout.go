package backend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/deployment"
	"github.com/mini-deploy/mini-deploy/orchestrator/rollingupdate"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

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
		if err := setImages(t, req.Images); err != nil {
			return resp, err
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
	oldObj, err := a.store.Get(api.Key{Kind: api.KindReplicationController, Namespace: ns, Name: spec.From})
	if err != nil {
		return nil, err
	}
	// What the controller will create is validated now, as an apply of it
	// would be: a bad name or image fails here, not as a rollout that never
	// ends.
	next, err := rollingupdate.NewReplicationController(oldObj.(*api.ReplicationController), spec)
	if err != nil {
		return nil, err
	}
	api.SetDefaults(next)
	if err := api.Validate(next); err != nil {
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
