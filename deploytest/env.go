package deploytest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

// PollInterval is how often the wait strategies look.
const PollInterval = 100 * time.Millisecond

// ServiceURL returns http://127.0.0.1:<nodePort> of a Service's first port.
func (e *Env) ServiceURL(name string) string {
	e.t.Helper()
	obj, err := e.Orch.Get(context.Background(), api.KindService, api.DefaultNamespace, name)
	if err != nil {
		e.t.Fatalf("deploytest: %v", err)
	}
	urls := e.Orch.ServiceURLs(obj.(*api.Service))
	if len(urls) == 0 {
		e.t.Fatalf("deploytest: service %q has no node port", name)
	}
	return urls[0]
}

// WaitReady waits until a workload ("deployment/kubia", "rc/kubia-v1",
// "rs/x") has all its replicas ready (a Deployment: its rollout finished).
func (e *Env) WaitReady(ctx context.Context, ref string) error {
	kind, name, err := parseRef(ref)
	if err != nil {
		return err
	}
	last := ""
	for {
		done, msg, err := e.ready(ctx, kind, name)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		last = msg
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %s: %w", ref, last, ctx.Err())
		case <-time.After(PollInterval):
		}
	}
}

func (e *Env) ready(ctx context.Context, kind, name string) (bool, string, error) {
	if kind == api.KindDeployment {
		resp, err := e.Orch.Rollout(ctx, server.RolloutRequest{Action: server.RolloutStatus, Namespace: api.DefaultNamespace, Name: name})
		if err != nil {
			return false, "", err
		}
		if resp.Failed {
			return false, "", fmt.Errorf("%s", resp.Message)
		}
		return resp.Done, resp.Message, nil
	}
	obj, err := e.Orch.Get(ctx, kind, api.DefaultNamespace, name)
	if err != nil {
		return false, "", err
	}
	var want int32 = 1
	var st api.ReplicaSetStatus
	switch v := obj.(type) {
	case *api.ReplicationController:
		want, st = *v.Spec.Replicas, v.Status
	case *api.ReplicaSet:
		want, st = *v.Spec.Replicas, v.Status
	default:
		return true, "", nil
	}
	msg := fmt.Sprintf("%d of %d replicas ready", st.ReadyReplicas, want)
	return st.ReadyReplicas == want && st.Replicas == want && st.ObservedGeneration >= obj.Meta().Generation, msg, nil
}

// RolloutStatus returns kubectl's rollout status line and whether it is done.
func (e *Env) RolloutStatus(ctx context.Context, name string) (string, bool, error) {
	resp, err := e.Orch.Rollout(ctx, server.RolloutRequest{Action: server.RolloutStatus, Namespace: api.DefaultNamespace, Name: name})
	if err != nil {
		return "", false, err
	}
	if resp.Failed {
		return resp.Message, false, fmt.Errorf("%s", resp.Message)
	}
	return resp.Message, resp.Done, nil
}

// SetImage sets container=image on a workload ("deployment/kubia").
func (e *Env) SetImage(ref, container, image string) error {
	kind, name, err := parseRef(ref)
	if err != nil {
		return err
	}
	_, err = e.Orch.SetImage(context.Background(), kind, api.DefaultNamespace, name, map[string]string{container: image})
	return err
}

// Scale sets a workload's replicas.
func (e *Env) Scale(ref string, replicas int32) error {
	kind, name, err := parseRef(ref)
	if err != nil {
		return err
	}
	_, err = e.Orch.Scale(context.Background(), kind, api.DefaultNamespace, name, replicas)
	return err
}

// Pods lists the pods matching a label selector ("" for all).
func (e *Env) Pods(selector string) []*api.Pod {
	e.t.Helper()
	objs, err := e.Orch.List(context.Background(), api.KindPod, api.DefaultNamespace, selector)
	if err != nil {
		e.t.Fatalf("deploytest: %v", err)
	}
	out := make([]*api.Pod, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*api.Pod))
	}
	return out
}

// KillPod kills a pod's container with SIGKILL behind the control plane's
// back, as `docker kill` would.
func (e *Env) KillPod(name string) error {
	obj, err := e.Orch.Get(context.Background(), api.KindPod, api.DefaultNamespace, name)
	if err != nil {
		return err
	}
	id := strings.TrimPrefix(obj.(*api.Pod).Status.ContainerStatuses[0].ContainerID, "docker://")
	return e.Engine.Kill(context.Background(), id, "SIGKILL")
}

// WaitFor polls cond until it returns true or ctx ends.
func (e *Env) WaitFor(ctx context.Context, what string, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(PollInterval):
		}
	}
	return nil
}

// parseRef reads kubectl's TYPE/NAME with the usual short names.
func parseRef(ref string) (kind, name string, err error) {
	t, n, ok := strings.Cut(ref, "/")
	if !ok || n == "" {
		return "", "", fmt.Errorf("want TYPE/NAME, got %q", ref)
	}
	switch strings.ToLower(t) {
	case "deployment", "deployments", "deploy", "deployment.apps":
		kind = api.KindDeployment
	case "replicaset", "replicasets", "rs":
		kind = api.KindReplicaSet
	case "replicationcontroller", "replicationcontrollers", "rc":
		kind = api.KindReplicationController
	case "service", "services", "svc":
		kind = api.KindService
	case "pod", "pods", "po":
		kind = api.KindPod
	default:
		return "", "", fmt.Errorf("unknown resource type %q in %q", t, ref)
	}
	return kind, n, nil
}
