package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/labels"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// workload is what a ReplicaSet and a ReplicationController have in common:
// keep replicas pods of a template, matching a selector.
type workload struct {
	obj        api.Object
	kind       string
	namespace  string
	name       string
	uid        string
	replicas   int32
	minReady   int32
	selector   labels.Selector
	template   *api.PodTemplateSpec
	generation int64
	status     *api.ReplicaSetStatus
}

func workloadOf(obj api.Object) (*workload, error) {
	m := obj.Meta()
	w := &workload{obj: obj, kind: obj.GetTypeMeta().Kind, namespace: api.KeyOf(obj).Namespace, name: m.Name, uid: m.UID, generation: m.Generation}
	switch o := obj.(type) {
	case *api.ReplicaSet:
		sel, err := labels.SelectorFromLabelSelector(o.Spec.Selector)
		if err != nil {
			return nil, err
		}
		w.selector, w.template, w.minReady, w.status = sel, &o.Spec.Template, o.Spec.MinReadySeconds, &o.Status
		w.replicas = 1
		if o.Spec.Replicas != nil {
			w.replicas = *o.Spec.Replicas
		}
	case *api.ReplicationController:
		sel := o.Spec.Selector
		if len(sel) == 0 && o.Spec.Template != nil {
			sel = o.Spec.Template.Labels
		}
		w.selector = labels.SelectorFromSet(sel)
		w.template, w.minReady, w.status = o.Spec.Template, o.Spec.MinReadySeconds, &o.Status
		w.replicas = 1
		if o.Spec.Replicas != nil {
			w.replicas = *o.Spec.Replicas
		}
	default:
		return nil, fmt.Errorf("%s is not a workload", w.kind)
	}
	if w.template == nil || len(w.template.Spec.Containers) == 0 {
		return nil, fmt.Errorf("%s %q has no pod template", w.kind, w.name)
	}
	return w, nil
}

// maxBurst bounds how many pods one reconcile creates, like Kubernetes'
// slow start: a typo in replicas should not fork-bomb the engine at once.
const maxBurst = 64

// syncReplicaSet keeps a ReplicaSet's or ReplicationController's pods at the
// desired count: claim its pods, restart exited ones with CrashLoopBackOff,
// create the missing, terminate the extra, and write the status.
func (o *Orchestrator) syncReplicaSet(ctx context.Context, key api.Key) (time.Duration, error) {
	obj, err := o.store.Get(key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if obj.Meta().DeletionTimestamp != nil {
		return 0, nil
	}
	w, err := workloadOf(obj)
	if err != nil {
		o.log.Error("invalid workload is not retried", "key", key.String(), "error", err)
		return 0, nil
	}
	pods := o.claimPods(w)
	var active []*pod
	for _, p := range pods {
		if p.active() {
			active = append(active, p)
		}
	}
	requeue := time.Duration(0)
	later := func(d time.Duration) {
		if d > 0 && (requeue == 0 || d < requeue) {
			requeue = d
		}
	}
	for _, p := range active {
		later(o.keepPodRunning(ctx, w, p))
	}

	diff := int(w.replicas) - len(active)
	if diff != 0 {
		// The status first, so that a pod that just went away stops counting
		// while its replacement is created (the engine takes a second or
		// more). With nothing to do, the status at the end is enough.
		later(o.updateReplicaStatus(w))
	}
	switch {
	case diff > 0:
		// In parallel: the engine takes about a second to start a container
		// on a bridge network, and replicas should not queue behind each other.
		n := min(diff, maxBurst)
		errs := make(chan error, n)
		for range n {
			go func() { errs <- o.createPod(ctx, w) }()
		}
		var firstErr error
		for range n {
			if err := <-errs; err != nil && firstErr == nil {
				firstErr = err
			}
		}
		if firstErr != nil {
			return 0, firstErr
		}
		if diff > maxBurst {
			later(time.Millisecond)
		}
	case diff < 0:
		for _, p := range pickVictims(active, -diff) {
			o.terminatePod(p, w)
		}
	}
	later(o.updateReplicaStatus(w))
	return requeue, nil
}

// claimPods returns the pods w owns, adopting orphans its selector matches,
// with Kubernetes' ControllerRef rule: a pod whose owner is alive belongs to
// that owner alone, even when another selector matches it too.
func (o *Orchestrator) claimPods(w *workload) []*pod {
	live := o.liveOwners()
	var out []*pod
	for _, p := range o.pods.snapshot() {
		if p.namespace != w.namespace {
			continue
		}
		if p.ownerUID == w.uid {
			out = append(out, p)
			continue
		}
		if live[p.ownerUID] || p.terminating || !w.selector.Matches(p.labels) {
			continue
		}
		adopted := o.pods.update(p.namespace, p.name, func(cp *pod) {
			if cp.ownerUID == p.ownerUID { // nobody adopted it meanwhile
				cp.ownerKind, cp.ownerName, cp.ownerUID = w.kind, w.name, w.uid
			}
		})
		if np, ok := o.pods.get(p.namespace, p.name); adopted && ok && np.ownerUID == w.uid {
			o.log.Info("adopted orphan pod", "pod", p.name, "owner", w.name)
			out = append(out, np)
		}
	}
	return out
}

// liveOwners is the set of UIDs of every ReplicaSet and ReplicationController.
func (o *Orchestrator) liveOwners() map[string]bool {
	live := map[string]bool{}
	for _, kind := range []string{api.KindReplicaSet, api.KindReplicationController} {
		for _, obj := range o.listAll(kind) {
			if obj.Meta().DeletionTimestamp == nil {
				live[obj.Meta().UID] = true
			}
		}
	}
	return live
}

// createPod makes and starts one pod of w's template. A missing image does
// not fail the reconcile: the pod waits with ErrImageNeverPull, as a pod with
// imagePullPolicy Never does, and is retried with back-off.
func (o *Orchestrator) createPod(ctx context.Context, w *workload) error {
	t := w.template
	p := &pod{
		name:      podName(w.name),
		namespace: w.namespace,
		labels:    maps.Clone(t.Labels),
		spec:      *api.Copy(&t.Spec),
		ownerKind: w.kind,
		ownerName: w.name,
		ownerUID:  w.uid,
		created:   time.Now(),
		creating:  true,
	}
	if p.labels == nil {
		p.labels = map[string]string{}
	}
	// In the cache first, as ContainerCreating, so the pod is counted and
	// shown while the engine works.
	o.pods.put(p)
	err := o.startPodContainer(ctx, p)
	if !o.recordStarted(ctx, p) {
		return nil
	}
	o.syncProbes()
	if err != nil {
		if errors.Is(err, rt.ErrEngineUnavailable) {
			o.pods.remove(p.namespace, p.name)
			return err
		}
		o.recorder.Eventf(w.obj, api.EventTypeWarning, "FailedCreate", "Error creating pod %s: %v", p.name, err)
		if errors.Is(err, rt.ErrImageNotFound) {
			o.recordPodEvent(p, api.EventTypeWarning, reasonErrImageNeverPull, "%s", p.waitingMsg)
		}
		return nil
	}
	o.recorder.Eventf(w.obj, api.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", p.name)
	o.recordStartEvents(p)
	return nil
}

// recordStartEvents tells a pod's start the way the kubelet does.
func (o *Orchestrator) recordStartEvents(p *pod) {
	o.recordPodEvent(p, api.EventTypeNormal, "Pulled", "Container image %q already present on machine", p.container.Image)
	o.recordPodEvent(p, api.EventTypeNormal, "Created", "Created container %s", p.containerName())
	o.recordPodEvent(p, api.EventTypeNormal, "Started", "Started container %s", p.containerName())
}

// recordStarted stores what starting p's container gave. A pod deleted or
// terminated while its container was being created (a cascading delete
// racing a scale-up) must not outlive that: its new container is removed at
// once, and recordStarted reports false.
func (o *Orchestrator) recordStarted(ctx context.Context, p *pod) bool {
	keep := false
	o.pods.update(p.namespace, p.name, func(cp *pod) {
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
		if err := o.rt.Remove(ctx, p.container.ID); err != nil && !errors.Is(err, rt.ErrNotFound) {
			o.log.Warn("remove the container of a pod deleted while it started", "pod", p.name, "error", err)
		}
	}
	o.pods.remove(p.namespace, p.name)
	o.requeueOwner(p)
	return false
}

// startPodContainer creates and starts p's container, recording a waiting
// reason on p when it cannot.
func (o *Orchestrator) startPodContainer(ctx context.Context, p *pod) error {
	c := p.spec.Containers[0]
	lbls := maps.Clone(p.labels)
	maps.Copy(lbls, o.ownLabels())
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
	id, err := o.rt.Create(ctx, rt.ContainerSpec{
		Name:         p.name,
		Image:        c.Image,
		Command:      c.Command,
		Args:         c.Args,
		Env:          env,
		Labels:       lbls,
		Hostname:     hostname,
		Network:      o.opts.Network,
		WorkingDir:   c.WorkingDir,
		PublishPorts: o.opts.PublishPorts,
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
	if err := o.rt.Start(ctx, id); err != nil {
		_ = o.rt.Remove(ctx, id)
		p.waiting, p.waitingMsg = reasonCreateError, err.Error()
		p.backoff = nextBackoff(p.backoff)
		p.nextRestart = time.Now().Add(p.backoff)
		return err
	}
	ctr, err := o.rt.Inspect(ctx, id)
	if err != nil {
		ctr = rt.Container{ID: id, Name: p.name, Image: c.Image, Labels: lbls, State: rt.StateRunning, StartedAt: time.Now()}
	}
	p.container = ctr
	p.waiting, p.waitingMsg = "", ""
	p.nextRestart = time.Time{}
	return nil
}

// keepPodRunning restarts an exited container in place, with the kubelet's
// CrashLoopBackOff: the first restart at once, then 10s doubling to 5m,
// reset after 10m of running. A pod without a container retries creating it.
// It returns when to look again.
func (o *Orchestrator) keepPodRunning(ctx context.Context, w *workload, p *pod) time.Duration {
	now := time.Now()
	if p.container.ID == "" {
		if now.Before(p.nextRestart) {
			return time.Until(p.nextRestart)
		}
		np := p.clone()
		if !o.pods.update(p.namespace, p.name, func(cp *pod) { cp.creating = !cp.terminating }) {
			return 0
		}
		err := o.startPodContainer(ctx, np)
		if !o.recordStarted(ctx, np) {
			return 0
		}
		o.syncProbes()
		if err != nil {
			return time.Until(np.nextRestart)
		}
		return 0
	}
	if p.container.Running() || p.creating {
		if p.waiting != "" && p.container.Running() {
			o.pods.update(p.namespace, p.name, func(cp *pod) { cp.waiting, cp.waitingMsg = "", "" })
		}
		return 0
	}
	if p.container.State == rt.StateCreated && p.waiting == "" {
		// Created and never started, and nobody is starting it: a daemon
		// died between the two. Its first start is not a restart.
		return o.startContainer(ctx, w, p, false)
	}
	if p.container.State == rt.StateRemoving {
		return 0
	}
	// Exited: schedule the restart once per exit.
	var due time.Time
	o.pods.update(p.namespace, p.name, func(cp *pod) {
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
			o.recordPodEvent(p, api.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s", p.containerName(), p.name)
		}
		return time.Until(due)
	}
	return o.startContainer(ctx, w, p, true)
}

// startContainer starts p's existing container: again after it exited
// (restart), or for the first time when a daemon that died created it and
// did not live to start it, so that a rollout it was in can go on.
func (o *Orchestrator) startContainer(ctx context.Context, w *workload, p *pod, restart bool) time.Duration {
	if err := o.rt.Start(ctx, p.container.ID); err != nil {
		reason, what := "FailedRestart", "restarting"
		if !restart {
			reason, what = "FailedCreate", "starting"
		}
		o.recorder.Eventf(w.obj, api.EventTypeWarning, reason, "Error %s pod %s: %v", what, p.name, err)
		return 5 * time.Second
	}
	ctr, err := o.rt.Inspect(ctx, p.container.ID)
	var started *pod
	o.pods.update(p.namespace, p.name, func(cp *pod) {
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
			o.savePodRecord(started)
		}
		o.recordPodEvent(started, api.EventTypeNormal, "Started", "Started container %s", started.containerName())
	}
	if restart {
		o.log.Info("restarted pod", "pod", p.name, "restarts", p.restarts+1)
	} else {
		o.log.Info("started a pod created by a previous daemon", "pod", p.name)
	}
	o.syncProbes()
	return 0
}

func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return crashBackoffInitial
	}
	return min(2*d, crashBackoffMax)
}

// pickVictims chooses n pods to remove: those without a running container
// first, then not ready ones, then the most recently ready, the most
// restarted, the youngest. It mirrors Kubernetes' ActivePods ordering.
func pickVictims(pods []*pod, n int) []*pod {
	sorted := append([]*pod(nil), pods...)
	rank := func(p *pod) int {
		switch {
		case p.container.ID == "":
			return 0
		case !p.running():
			return 1
		case !p.ready:
			return 2
		}
		return 3
	}
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		if a.ready && b.ready && !a.readySince.Equal(b.readySince) {
			return a.readySince.After(b.readySince)
		}
		if a.restarts != b.restarts {
			return a.restarts > b.restarts
		}
		return a.created.After(b.created)
	})
	return sorted[:min(n, len(sorted))]
}

// updateReplicaStatus writes replicas, readyReplicas and availableReplicas
// when they changed, and returns when a ready pod becomes available.
func (o *Orchestrator) updateReplicaStatus(w *workload) time.Duration {
	now := time.Now()
	minReady := time.Duration(w.minReady) * time.Second
	var replicas, ready, available int32
	var next time.Duration
	for _, p := range o.claimPods(w) {
		if !p.active() {
			continue
		}
		replicas++
		if !p.ready || !p.running() {
			continue
		}
		ready++
		if since := now.Sub(p.readySince); since >= minReady {
			available++
		} else if d := minReady - since; next == 0 || d < next {
			next = d
		}
	}
	st := w.status
	if st.Replicas == replicas && st.FullyLabeledReplicas == replicas && st.ReadyReplicas == ready &&
		st.AvailableReplicas == available && st.ObservedGeneration == w.generation {
		return next
	}
	st.Replicas, st.FullyLabeledReplicas, st.ReadyReplicas, st.AvailableReplicas = replicas, replicas, ready, available
	st.ObservedGeneration = w.generation
	w.obj.Meta().ResourceVersion = "" // status is ours alone: last writer wins
	if _, err := o.store.UpdateStatus(w.obj); err != nil && !errors.Is(err, store.ErrNotFound) {
		o.log.Warn("update status", "kind", w.kind, "name", w.name, "error", err)
		return time.Second
	}
	return next
}

// engineResources translates a container's resources as the kubelet does for
// cgroups: a cpu limit is a CPU quota, a cpu request a share weight (1024 a
// core, at least 2), a memory limit a hard limit and a memory request a soft
// one. Validation has checked the quantities.
func engineResources(r *api.Resources) rt.Resources {
	var out rt.Resources
	if r == nil {
		return out
	}
	if q, ok := r.Limits[api.ResourceCPU]; ok {
		m, _ := api.MilliCPU(string(q))
		out.NanoCPUs = m * 1_000_000
	}
	if q, ok := r.Requests[api.ResourceCPU]; ok {
		m, _ := api.MilliCPU(string(q))
		out.CPUShares = max(2, m*1024/1000)
	}
	if q, ok := r.Limits[api.ResourceMemory]; ok {
		out.MemoryLimit, _ = api.Bytes(string(q))
	}
	if q, ok := r.Requests[api.ResourceMemory]; ok {
		out.MemoryReservation, _ = api.Bytes(string(q))
	}
	return out
}
