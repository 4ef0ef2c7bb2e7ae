package deploytest

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

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
	statuses := obj.(*api.Pod).Status.ContainerStatuses
	if len(statuses) == 0 || statuses[0].ContainerID == "" {
		return fmt.Errorf("pod %q has no container yet", name)
	}
	id := strings.TrimPrefix(statuses[0].ContainerID, "docker://")
	return e.Engine.Kill(context.Background(), id, "SIGKILL")
}

// Logs returns a pod's output so far (stdout and stderr, at most 1 MiB).
func (e *Env) Logs(pod string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := e.Orch.Logs(ctx, api.DefaultNamespace, pod, server.LogOptions{})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	return string(b), err
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
