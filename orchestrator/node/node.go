// Package node is what the kubelet is to Kubernetes: the node agent that
// creates, starts and restarts pod containers, probes them, keeps the pod
// cache true to the engine and stops pods by the termination protocol.
//
// Where a change goes: how a pod stops is terminate.go (the data plane's side
// of the drain is package dataplane); how a pod starts or restarts is
// node.go; readiness and liveness are probe.go; what `get pods` shows is
// podview.go; what the API layer and the ReplicaSet controller may ask of it
// is views.go; deleting what an object owns is cascade.go.
package node

// node.go is the agent's core: its pod cache, a pod's creation, start and
// restart, and the engine events that keep the cache true. It is over 500
// lines because those share the cache's locking rules; probes
// (probe.go), termination (terminate.go) and cascading deletion
// (cascade.go) are apart.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"sync"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/dataplane"
	"github.com/mini-deploy/mini-deploy/orchestrator/internal/record"
	"github.com/mini-deploy/mini-deploy/orchestrator/replicaset"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// Agent is what the kubelet is to Kubernetes: it creates and starts pod
// containers, restarts them with CrashLoopBackOff, keeps the pod cache true
// to the engine, keeps pod records, and stops pods by the termination
// protocol (terminate.go). Its prober (probe.go) runs the probes and tells
// the controllers about readiness. Controllers ask it for pods; it tells them
// a pod's owner must look again through enqueue. It reaches the data plane
// only through the drainer, for the drain hand-shake before a pod is
// signalled.
type Agent struct {
	rt       rt.Runtime
	store    *store.Store // pod records only
	pods     *podCache
	addrs    addressing
	services *dataplane.ServiceIndex // for a drained pod's implicit readiness port
	labels   map[string]string       // put on every container it creates
	instance string                  // the instance label of its containers
	log      *slog.Logger
	recorder *record.Recorder
	drainer  Drainer
	enqueue  func(api.Key) // a pod's owner must be reconciled
	changed  func(namespace, ownerKind, ownerName string)
	bg       *sync.WaitGroup
	prober   *prober // told whenever a container starts or stops
	records  podRecords
}

// Options are what an Agent is built from.
type Options struct {
	Runtime rt.Runtime
	Store   *store.Store // for pod records
	// Services are the stored Services, for the implicit readiness port.
	Services *dataplane.ServiceIndex
	Network  string // the Docker network pods run on
	Publish  bool   // pods publish their ports on 127.0.0.1
	Instance string // the instance label of this control plane's containers
	// Labels are put on every container the agent creates.
	Labels   map[string]string
	Log      *slog.Logger
	Recorder *record.Recorder
	// ProbeDial opens the connections of TCP and HTTP probes.
	ProbeDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Background counts terminations and probe workers, so that the host
	// can wait for them when it stops.
	Background *sync.WaitGroup
	// Enqueue asks for an owner to be reconciled; Changed says that a pod
	// changed (started, stopped, became ready or not): its owner and the
	// Services of its namespace must look again.
	Enqueue func(api.Key)
	Changed func(namespace, ownerKind, ownerName string)
}

// New returns an Agent; it probes nothing until Start.
func New(opts Options) *Agent {
	pods := newPodCache()
	addrs := addressing{network: opts.Network, publish: opts.Publish}
	n := &Agent{
		rt: opts.Runtime, store: opts.Store, pods: pods, addrs: addrs, services: opts.Services,
		labels: opts.Labels, instance: opts.Instance, log: opts.Log, recorder: opts.Recorder,
		enqueue: opts.Enqueue, changed: opts.Changed, bg: opts.Background,
		records: podRecords{store: opts.Store, pods: pods, log: opts.Log},
	}
	n.prober = &prober{
		rt: opts.Runtime, pods: pods, services: opts.Services, addrs: addrs, log: opts.Log, recorder: opts.Recorder,
		changed: n.podChanged, bg: opts.Background, workers: map[string]*probeWorker{}, dial: opts.ProbeDial,
	}
	return n
}

// SetDrainer gives the agent the data plane, for the drain hand-shake; the
// data plane is built after the agent, since it routes to the agent's pods.
func (n *Agent) SetDrainer(d Drainer) { n.drainer, n.prober.drainer = d, d }

// Start adopts the containers the engine has, starts their probes and waits
// a moment for their first readiness results, so that a restarted daemon
// serves its Services at once. ctx bounds the probes' lives.
func (n *Agent) Start(ctx context.Context) error {
	n.prober.ctx = ctx
	if err := n.relist(ctx); err != nil {
		return err
	}
	n.prober.syncProbes()
	n.awaitFirstProbes(ctx, initialProbeWait)
	return nil
}

// Resync rebuilds the pod cache from a full list of the engine, whose events
// may have been missed.
func (n *Agent) Resync(ctx context.Context) error {
	err := n.relist(ctx)
	n.prober.syncProbes()
	return err
}

// SyncProbes starts and stops probe workers to match the pods; a Service
// change may have changed a pod's implicit readiness port.
func (n *Agent) SyncProbes() { n.prober.syncProbes() }

// HandleEvent follows one engine event about a container (a resync is the
// host's: Resync).
func (n *Agent) HandleEvent(ctx context.Context, ev rt.Event) {
	if ev.Type == rt.EventDestroy {
		n.pods.containerGone(ev.ContainerID)
		if p, ok := n.pods.byContainer(ev.ContainerID); ok && !p.terminating {
			n.pods.remove(p.namespace, p.name)
			n.records.forget(p)
			n.podChanged(p)
		}
		return
	}
	c, err := n.rt.Inspect(ctx, ev.ContainerID)
	if err != nil {
		return // gone already; destroy follows
	}
	if c.Labels[LabelInstance] != n.instance {
		return
	}
	p, isNew := n.pods.observe(c)
	if p == nil {
		return
	}
	if isNew {
		n.records.restore(p)
	}
	switch ev.Type {
	case rt.EventDie, rt.EventOOM:
		n.prober.setReady(p.namespace, p.name, false)
	case rt.EventPause:
		// A frozen process answers nothing: out of the endpoints at once,
		// not after its readiness probe has failed a few times.
		n.prober.setReady(p.namespace, p.name, false)
		podEventf(n.recorder, p, api.EventTypeWarning, "Paused",
			"Container %s was paused (docker pause): it gets no traffic until `docker unpause %s`", p.containerName(), shortID(c.ID))
	case rt.EventUnpause:
		podEventf(n.recorder, p, api.EventTypeNormal, "Unpaused",
			"Container %s was unpaused: it gets traffic again once it is ready", p.containerName())
	}
	n.podChanged(p)
}

// podChanged tells the host about p and restarts probes as needed.
func (n *Agent) podChanged(p *pod) {
	n.changed(p.namespace, p.ownerKind, p.ownerName)
	n.prober.syncProbes()
}

// Drainer is the data plane as the termination protocol needs it: push a
// namespace's endpoints now (the pod is out), then wait until no proxy has a
// request in flight to the pod.
type Drainer interface {
	PushNamespace(namespace string)
	DrainPod(ctx context.Context, p dataplane.Pod)
}

// initialProbeWait bounds how long a starting control plane waits for the
// first readiness result of the pods it adopted.
const initialProbeWait = 3 * time.Second

// awaitFirstProbes waits until every running pod has had a readiness result.
func (n *Agent) awaitFirstProbes(ctx context.Context, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		pending := false
		for _, p := range n.pods.snapshot() {
			if p.running() && !p.terminating && !p.probed {
				pending = true
				break
			}
		}
		if !pending || !sleep(ctx, 20*time.Millisecond) {
			return
		}
	}
}

// relist rebuilds the pod cache from the engine: events may have been missed.
func (n *Agent) relist(ctx context.Context) error {
	// Only a container the cache knew before the list began can be missing
	// from it because it is gone; one made while the list ran is not in it
	// either, and is kept.
	known := n.pods.containerIDs()
	ctrs, err := n.rt.List(ctx, map[string]string{LabelInstance: n.instance})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	seen := map[string]bool{}
	for _, c := range ctrs {
		p, isNew := n.pods.observe(c)
		if p != nil {
			seen[podID(p.namespace, p.name)] = true
		}
		if isNew {
			n.records.restore(p)
		}
	}
	for _, p := range n.pods.snapshot() {
		if !seen[podID(p.namespace, p.name)] && known[p.container.ID] && !p.terminating {
			n.pods.remove(p.namespace, p.name)
			n.records.forget(p)
		}
	}
	return nil
}

// CreatePod makes and starts one pod of w's template. A missing image does
// not fail the reconcile: the pod waits with ErrImageNeverPull, as a pod with
// imagePullPolicy Never does, and is retried with back-off.
func (n *Agent) CreatePod(ctx context.Context, w *replicaset.Workload) error {
	t := w.Template
	p := &pod{
		name:      podName(w.Name),
		namespace: w.Namespace,
		labels:    maps.Clone(t.Labels),
		spec:      *api.Copy(&t.Spec),
		ownerKind: w.Kind,
		ownerName: w.Name,
		ownerUID:  w.UID,
		created:   time.Now(),
		creating:  true,
	}
	if p.labels == nil {
		p.labels = map[string]string{}
	}
	// In the cache first, as ContainerCreating, so the pod is counted and
	// shown while the engine works.
	n.pods.put(p)
	err := n.startPodContainer(ctx, p)
	if !n.recordStarted(ctx, p) {
		return nil
	}
	n.prober.syncProbes()
	if err != nil {
		if errors.Is(err, rt.ErrEngineUnavailable) {
			n.pods.remove(p.namespace, p.name)
			return err
		}
		n.recorder.Eventf(w.Obj, api.EventTypeWarning, "FailedCreate", "Error creating pod %s: %v", p.name, err)
		if errors.Is(err, rt.ErrImageNotFound) {
			podEventf(n.recorder, p, api.EventTypeWarning, reasonErrImageNeverPull, "%s", p.waitingMsg)
		}
		return nil
	}
	n.recorder.Eventf(w.Obj, api.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", p.name)
	n.recordStartEvents(p)
	return nil
}

// recordStartEvents tells a pod's start the way the kubelet does.
func (n *Agent) recordStartEvents(p *pod) {
	podEventf(n.recorder, p, api.EventTypeNormal, "Pulled", "Container image %q already present on machine", p.container.Image)
	podEventf(n.recorder, p, api.EventTypeNormal, "Created", "Created container %s", p.containerName())
	podEventf(n.recorder, p, api.EventTypeNormal, "Started", "Started container %s", p.containerName())
}

// recordStarted stores what starting p's container gave. A pod deleted or
// terminated while its container was being created (a cascading delete
// racing a scale-up) must not outlive that: its new container is removed at
// once, and recordStarted reports false.
func (n *Agent) recordStarted(ctx context.Context, p *pod) bool {
	keep := false
	n.pods.update(p.namespace, p.name, func(cp *pod) {
		cp.creating = false
		if cp.terminating {
			return
		}
		keep = true
		cp.container, cp.waiting, cp.waitingMsg, cp.backoff, cp.nextRestart = p.container, p.waiting, p.waitingMsg, p.backoff, p.nextRestart
	})
	if keep {
		return true
	}
	if p.container.ID != "" {
		if err := n.rt.Remove(ctx, p.container.ID); err != nil && !errors.Is(err, rt.ErrNotFound) {
			n.log.Warn("remove the container of a pod deleted while it started", "pod", p.name, "error", err)
		}
	}
	n.pods.remove(p.namespace, p.name)
	n.requeueOwner(p)
	return false
}

// startPodContainer creates and starts p's container, recording a waiting
// reason on p when it cannot.
func (n *Agent) startPodContainer(ctx context.Context, p *pod) error {
	c := p.spec.Containers[0]
	lbls := maps.Clone(p.labels)
	maps.Copy(lbls, n.labels)
	specJSON, _ := jsonCompact(p.spec)
	maps.Copy(lbls, map[string]string{
		LabelPod:        p.name,
		LabelNamespace:  p.namespace,
		LabelOwnerKind:  p.ownerKind,
		LabelOwnerName:  p.ownerName,
		LabelOwnerUID:   p.ownerUID,
		LabelConfigHash: configHash(p.spec),
		LabelSpec:       specJSON,
	})
	env := make([]string, 0, len(c.Env))
	for _, e := range c.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	var ports []int
	for _, cp := range c.Ports {
		ports = append(ports, int(cp.ContainerPort))
	}
	hostname := p.name
	if p.spec.Hostname != "" {
		hostname = p.spec.Hostname
	}
	id, err := n.rt.Create(ctx, rt.ContainerSpec{
		Name:         p.name,
		Image:        c.Image,
		Command:      c.Command,
		Args:         c.Args,
		Env:          env,
		Labels:       lbls,
		Hostname:     hostname,
		Network:      n.addrs.network,
		WorkingDir:   c.WorkingDir,
		PublishPorts: n.addrs.publish,
		Ports:        ports,
		Resources:    engineResources(c.Resources),
	})
	if err != nil {
		p.waiting, p.waitingMsg = reasonCreateError, err.Error()
		if errors.Is(err, rt.ErrImageNotFound) {
			p.waiting = reasonErrImageNeverPull
			p.waitingMsg = fmt.Sprintf("Container image %q is not present on the engine and images are never pulled: build or load it", c.Image)
		}
		p.backoff = nextBackoff(p.backoff)
		p.nextRestart = time.Now().Add(p.backoff)
		return err
	}
	if err := n.rt.Start(ctx, id); err != nil {
		_ = n.rt.Remove(ctx, id)
		p.waiting, p.waitingMsg = reasonCreateError, err.Error()
		p.backoff = nextBackoff(p.backoff)
		p.nextRestart = time.Now().Add(p.backoff)
		return err
	}
	ctr, err := n.rt.Inspect(ctx, id)
	if err != nil {
		ctr = rt.Container{ID: id, Name: p.name, Image: c.Image, Labels: lbls, State: rt.StateRunning, StartedAt: time.Now()}
	}
	p.container = ctr
	p.waiting, p.waitingMsg = "", ""
	p.nextRestart = time.Time{}
	return nil
}

// KeepPodRunning restarts an exited container in place, with the kubelet's
// CrashLoopBackOff: the first restart at once, then 10s doubling to 5m,
// reset after 10m of running. A pod without a container retries creating it.
// It returns when to look again.
func (n *Agent) KeepPodRunning(ctx context.Context, w *replicaset.Workload, rp replicaset.Pod) time.Duration {
	p := rp.(*pod)
	now := time.Now()
	if p.container.ID == "" {
		if now.Before(p.nextRestart) {
			return time.Until(p.nextRestart)
		}
		np := p.clone()
		if !n.pods.update(p.namespace, p.name, func(cp *pod) { cp.creating = !cp.terminating }) {
			return 0
		}
		err := n.startPodContainer(ctx, np)
		if !n.recordStarted(ctx, np) {
			return 0
		}
		n.prober.syncProbes()
		if err != nil {
			return time.Until(np.nextRestart)
		}
		return 0
	}
	if p.container.State == rt.StatePaused {
		// Alive, frozen by someone with the engine's socket: neither
		// exited nor to be restarted. Unpausing it resumes it as it was.
		return 0
	}
	if p.container.Running() && !p.creating && !p.terminating && p.ip(n.addrs.network) == "" &&
		now.Sub(p.container.StartedAt) > networkGrace {
		// Cut off its network (`docker network disconnect`): it can
		// never be an endpoint again. Replaced, and said so.
		podEventf(n.recorder, p, api.EventTypeWarning, "NetworkLost",
			"Pod %s runs but has no address on network %s (disconnected from it?): replacing it", p.name, n.addrs.network)
		n.terminatePod(p, w)
		return 0
	}
	if p.container.Running() || p.creating {
		if p.waiting != "" && p.container.Running() {
			n.pods.update(p.namespace, p.name, func(cp *pod) { cp.waiting, cp.waitingMsg = "", "" })
		}
		return 0
	}
	if p.container.State == rt.StateCreated && p.waiting == "" {
		// Created and never started, and nobody is starting it: a daemon
		// died between the two. Its first start is not a restart.
		return n.startContainer(ctx, w, p, false)
	}
	if p.container.State == rt.StateRemoving {
		return 0
	}
	// Exited: schedule the restart once per exit.
	var due time.Time
	n.pods.update(p.namespace, p.name, func(cp *pod) {
		if cp.nextRestart.IsZero() {
			finished := cp.container.FinishedAt
			if finished.IsZero() {
				finished = now
			}
			if finished.Sub(cp.container.StartedAt) >= crashBackoffReset {
				cp.backoff = 0
			}
			cp.nextRestart = finished.Add(cp.backoff)
			cp.backoff = nextBackoff(cp.backoff)
			cp.lastExit = terminatedState(cp.container)
		}
		due = cp.nextRestart
		if now.Before(due) {
			name := ""
			if len(cp.spec.Containers) > 0 {
				name = cp.spec.Containers[0].Name
			}
			cp.waiting = reasonCrashLoopBackOff
			cp.waitingMsg = fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", cp.backoff/2, name, cp.name)
		}
	})
	if now.Before(due) {
		if p.waiting != reasonCrashLoopBackOff { // once per back-off
			podEventf(n.recorder, p, api.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s", p.containerName(), p.name)
		}
		return time.Until(due)
	}
	return n.startContainer(ctx, w, p, true)
}

// startContainer starts p's existing container: again after it exited
// (restart), or for the first time when a daemon that died created it and
// did not live to start it, so that a rollout it was in can go on.
func (n *Agent) startContainer(ctx context.Context, w *replicaset.Workload, p *pod, restart bool) time.Duration {
	if err := n.rt.Start(ctx, p.container.ID); err != nil {
		reason, what := "FailedRestart", "restarting"
		if !restart {
			reason, what = "FailedCreate", "starting"
		}
		n.recorder.Eventf(w.Obj, api.EventTypeWarning, reason, "Error %s pod %s: %v", what, p.name, err)
		return 5 * time.Second
	}
	ctr, err := n.rt.Inspect(ctx, p.container.ID)
	var started *pod
	n.pods.update(p.namespace, p.name, func(cp *pod) {
		if restart {
			cp.restarts++
			cp.waiting, cp.waitingMsg = "", ""
			cp.nextRestart = time.Time{}
			cp.ready, cp.readySince = false, time.Time{}
		}
		if err == nil {
			cp.container = ctr
		}
		started = cp.clone()
	})
	if started != nil {
		if restart {
			n.records.save(started)
		}
		podEventf(n.recorder, started, api.EventTypeNormal, "Started", "Started container %s", started.containerName())
	}
	if restart {
		n.log.Info("restarted pod", "pod", p.name, "restarts", p.restarts+1)
	} else {
		n.log.Info("started a pod created by a previous daemon", "pod", p.name)
	}
	n.prober.syncProbes()
	return 0
}

func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return crashBackoffInitial
	}
	return min(2*d, crashBackoffMax)
}

// networkGrace is how long a started container may go without an address on
// the pods' network before the pod counts as cut off from it.
const networkGrace = 5 * time.Second

// shortID is a container ID as docker ps prints it.
func shortID(id string) string { return id[:min(len(id), 12)] }
