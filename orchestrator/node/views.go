package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	rt "github.com/mini-deploy/mini-deploy/runtime"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/dataplane"
	"github.com/mini-deploy/mini-deploy/orchestrator/labels"
	"github.com/mini-deploy/mini-deploy/orchestrator/replicaset"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

// What the API layer (backend.Pods) and the ReplicaSet controller
// (replicaset.NodeAgent) ask of the node agent.

// APIView is the node agent as the API layer sees it (backend.Pods): views
// of pods, never the pods themselves.
type APIView struct{ n *Agent }

// ForAPI returns the agent's view for the API layer.
func (n *Agent) ForAPI() APIView { return APIView{n} }

// Pod returns a view of one pod.
func (v APIView) Pod(namespace, name string) (*api.Pod, bool) {
	p, ok := v.n.pods.get(namespace, name)
	if !ok {
		return nil, false
	}
	return v.n.podView(p), true
}

// Pods returns views of the pods of namespace ("" for all) that sel matches.
func (v APIView) Pods(namespace string, sel labels.Selector) []*api.Pod {
	var out []*api.Pod
	for _, p := range v.n.pods.snapshot() {
		if (namespace == "" || p.namespace == namespace) && sel.Matches(p.labels) {
			out = append(out, v.n.podView(p))
		}
	}
	return out
}

// Terminate stops a pod by the termination protocol, within grace when it
// is given (delete --grace-period), else the pod's own period.
func (v APIView) Terminate(namespace, name string, grace *time.Duration) (*api.Pod, <-chan struct{}, bool) {
	p, ok := v.n.pods.get(namespace, name)
	if !ok {
		return nil, nil, false
	}
	view := v.n.podView(p)
	g := gracePeriod(p)
	if grace != nil {
		g = *grace
	}
	return view, v.n.terminatePodWithin(p, nil, g), true
}

// Logs streams a pod's container output.
func (v APIView) Logs(ctx context.Context, namespace, name string, opts server.LogOptions) (io.ReadCloser, error) {
	p, ok := v.n.pods.get(namespace, name)
	if !ok {
		return nil, api.NotFound(api.KindPod, name)
	}
	if p.container.ID == "" {
		return nil, fmt.Errorf("container of pod %q is waiting to start: %s", name, p.waiting)
	}
	return v.n.rt.Logs(ctx, p.container.ID, rt.LogOptions{Follow: opts.Follow, Tail: opts.Tail, Timestamps: opts.Timestamps})
}

// Exec runs command in the pod's container, terminating or not. A pod whose
// container is not running is an error that says so; a command that cannot start is not: the
// engine reports it as output and exit code 126 or 127, as docker exec does.
func (v APIView) Exec(ctx context.Context, namespace, name string, command []string, out io.Writer) (server.ExecResult, error) {
	p, ok := v.n.pods.get(namespace, name)
	if !ok {
		return server.ExecResult{}, api.NotFound(api.KindPod, name)
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
	res, err := v.n.rt.Exec(ctx, p.container.ID, command, out)
	if err != nil {
		return server.ExecResult{}, fmt.Errorf("exec in pod %q: %w", name, err)
	}
	return server.ExecResult{ExitCode: res.ExitCode}, nil
}

// Metrics samples the CPU and memory use of a pod's running container.
func (v APIView) Metrics(ctx context.Context, namespace, name string) (server.PodMetrics, error) {
	p, ok := v.n.pods.get(namespace, name)
	if !ok {
		return server.PodMetrics{}, api.NotFound(api.KindPod, name)
	}
	if !p.running() {
		return server.PodMetrics{}, fmt.Errorf("pod %q is not running: no metrics", name)
	}
	st, err := v.n.rt.Stats(ctx, p.container.ID)
	if err != nil {
		return server.PodMetrics{}, fmt.Errorf("metrics of pod %q: %w", name, err)
	}
	return server.PodMetrics{Namespace: namespace, Name: name, CPUMilli: st.CPUMilli, MemoryBytes: st.MemoryBytes}, nil
}

// ImageExists reports whether the engine has image ref.
func (v APIView) ImageExists(ctx context.Context, ref string) (bool, error) {
	return v.n.rt.ImageExists(ctx, ref)
}

// Addr is where this host reaches port of a pod's running container, for
// port-forward: its IP on the pods' network, or its published 127.0.0.1 port.
func (v APIView) Addr(namespace, name string, port int) (string, error) {
	p, ok := v.n.pods.get(namespace, name)
	if !ok {
		return "", api.NotFound(api.KindPod, name)
	}
	if !p.running() || p.ip(v.n.addrs.network) == "" && !v.n.addrs.publish {
		return "", fmt.Errorf("unable to forward port because pod is not running. Current status=%s", v.n.podView(p).Status.Phase)
	}
	return v.n.addrs.podAddr(p, port), nil
}

// StopAll stops every pod and waits until they are gone or ctx ends; then
// it removes the containers this instance made that the cache never knew (a
// crash between create and record).
func (v APIView) StopAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range v.n.pods.snapshot() {
		done := v.n.terminatePod(p, nil)
		wg.Go(func() { waitDone(ctx, done) })
	}
	wg.Wait()
	if ctrs, err := v.n.rt.List(ctx, map[string]string{LabelInstance: v.n.instance}); err == nil {
		for _, c := range ctrs {
			_ = v.n.rt.Remove(ctx, c.ID)
		}
	}
}

// RemoveNetwork removes the pods' network.
func (v APIView) RemoveNetwork(ctx context.Context) {
	if err := v.n.rt.RemoveNetwork(ctx, v.n.addrs.network); err != nil && !errors.Is(err, rt.ErrNotFound) {
		v.n.log.Warn("remove network", "network", v.n.addrs.network, "error", err)
	}
}

// The node agent as the ReplicaSet controller sees it (replicaset.NodeAgent).

// ListPods returns a snapshot of every pod.
func (n *Agent) ListPods() []replicaset.Pod {
	snap := n.pods.snapshot()
	out := make([]replicaset.Pod, len(snap))
	for i, p := range snap {
		out[i] = p
	}
	return out
}

// Adopt gives an orphan pod to w, unless someone adopted it meanwhile.
func (n *Agent) Adopt(rp replicaset.Pod, w *replicaset.Workload) (replicaset.Pod, bool) {
	p := rp.(*pod)
	adopted := n.pods.update(p.namespace, p.name, func(cp *pod) {
		if cp.ownerUID == p.ownerUID { // nobody adopted it meanwhile
			cp.ownerKind, cp.ownerName, cp.ownerUID = w.Kind, w.Name, w.UID
		}
	})
	np, ok := n.pods.get(p.namespace, p.name)
	if !adopted || !ok || np.ownerUID != w.UID {
		return nil, false
	}
	return np, true
}

// TerminatePod stops a pod of w by the termination protocol.
func (n *Agent) TerminatePod(rp replicaset.Pod, w *replicaset.Workload) <-chan struct{} {
	return n.terminatePod(rp.(*pod), w)
}

// RoutablePods are the pods the data plane may route to: running and not
// terminating, as it sees them.
func (n *Agent) RoutablePods() []dataplane.Pod {
	var out []dataplane.Pod
	for _, p := range n.pods.snapshot() {
		if p.running() && !p.terminating {
			out = append(out, n.addrs.endpoint(p, nil))
		}
	}
	return out
}

// OwnedPodCount counts the pods an owner has, terminating ones included.
func (n *Agent) OwnedPodCount(ownerUID string) int { return n.pods.ownedCount(ownerUID) }
