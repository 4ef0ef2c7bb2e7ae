package orchestrator

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"hash/fnv"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// Labels mini-deploy puts on every pod container, next to the template's own
// labels. They are the observed state: a restarted daemon rebuilds its whole
// picture of the pods from them.
const (
	LabelInstance   = "mini-deploy.io/instance"
	LabelPod        = "mini-deploy.io/pod"
	LabelNamespace  = "mini-deploy.io/namespace"
	LabelOwnerKind  = "mini-deploy.io/owner-kind"
	LabelOwnerName  = "mini-deploy.io/owner-name"
	LabelOwnerUID   = "mini-deploy.io/owner-uid"
	LabelConfigHash = "mini-deploy.io/config-hash"
	// LabelSpec holds the pod's spec as JSON: pods are not stored, and a pod
	// keeps the spec it was created with even when its owner's template
	// changes, as in Kubernetes.
	LabelSpec = "mini-deploy.io/spec"
)

// Pod waiting reasons shown in `get pods` STATUS.
const (
	reasonCrashLoopBackOff  = "CrashLoopBackOff"
	reasonErrImageNeverPull = "ErrImageNeverPull"
	reasonCreateError       = "CreateContainerError"
)

// CrashLoopBackOff timing, as the kubelet's.
const (
	crashBackoffInitial = 10 * time.Second
	crashBackoffMax     = 5 * time.Minute
	crashBackoffReset   = 10 * time.Minute
)

// pod is the orchestrator's record of one pod: the container as the engine
// last reported it plus what only the control plane knows (readiness,
// restarts, termination). A pod whose container could not be created (a
// missing image) has no container ID and waits with a reason, as a Pending
// pod does in Kubernetes.
type pod struct {
	name      string
	namespace string
	labels    map[string]string // the template's labels
	spec      api.PodSpec
	ownerKind string
	ownerName string
	ownerUID  string

	container rt.Container // zero ID: not created
	created   time.Time

	ready       bool
	probed      bool // a readiness result has come since the daemon started
	readySince  time.Time
	restarts    int32
	backoff     time.Duration
	nextRestart time.Time
	waiting     string // waiting reason, "" when none
	waitingMsg  string
	terminating bool
	creating    bool // the engine is creating its container right now
	lastExit    *api.ContainerStateTerminated
}

func (p *pod) clone() *pod {
	c := *p
	return &c
}

// active pods count toward a controller's replicas.
func (p *pod) active() bool { return !p.terminating }

func (p *pod) running() bool { return p.container.ID != "" && p.container.Running() }

func (p *pod) ip(network string) string { return p.container.IPs[network] }

// containerName is the name the pod's spec gives its container.
func (p *pod) containerName() string {
	if len(p.spec.Containers) == 0 {
		return ""
	}
	return p.spec.Containers[0].Name
}

// podCache holds every pod of this instance, keyed by namespace/name. The
// controllers update it synchronously when they act, so a reconcile right
// after a create never creates twice; engine events and relists keep it true
// to the engine.
type podCache struct {
	mu   sync.RWMutex
	pods map[string]*pod
	// gone holds the IDs of containers known to be removed, and since when:
	// a list or an inspect made just before a removal must not bring the
	// pod back once it is gone.
	gone map[string]time.Time
}

// goneTTL is how long a removed container's ID is remembered; a list or an
// inspect is far shorter.
const goneTTL = 10 * time.Minute

func newPodCache() *podCache {
	return &podCache{pods: map[string]*pod{}, gone: map[string]time.Time{}}
}

func podID(namespace, name string) string { return namespace + "/" + name }

// snapshot returns copies of every pod, sorted by name.
func (c *podCache) snapshot() []*pod {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*pod, 0, len(c.pods))
	for _, p := range c.pods {
		out = append(out, p.clone())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].namespace != out[j].namespace {
			return out[i].namespace < out[j].namespace
		}
		return out[i].name < out[j].name
	})
	return out
}

func (c *podCache) get(namespace, name string) (*pod, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, ok := c.pods[podID(namespace, name)]
	if !ok {
		return nil, false
	}
	return p.clone(), true
}

func (c *podCache) byContainer(id string) (*pod, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, p := range c.pods {
		if p.container.ID == id {
			return p.clone(), true
		}
	}
	return nil, false
}

// update applies fn to the stored pod under the lock; it reports whether the
// pod exists.
func (c *podCache) update(namespace, name string, fn func(p *pod)) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pods[podID(namespace, name)]
	if ok {
		fn(p)
	}
	return ok
}

func (c *podCache) put(p *pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pods[podID(p.namespace, p.name)] = p.clone()
}

// remove drops a pod whose container is gone (or was never made).
func (c *podCache) remove(namespace, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := podID(namespace, name)
	if p, ok := c.pods[id]; ok && p.container.ID != "" {
		c.markGone(p.container.ID)
	}
	delete(c.pods, id)
}

// containerGone records that the engine destroyed a container.
func (c *podCache) containerGone(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.markGone(id)
}

func (c *podCache) markGone(id string) {
	now := time.Now()
	for old, at := range c.gone {
		if now.Sub(at) > goneTTL {
			delete(c.gone, old)
		}
	}
	c.gone[id] = now
}

// containerIDs returns the IDs of the containers of the cached pods.
func (c *podCache) containerIDs() map[string]bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ids := make(map[string]bool, len(c.pods))
	for _, p := range c.pods {
		if p.container.ID != "" {
			ids[p.container.ID] = true
		}
	}
	return ids
}

// observe merges an engine view of a container into the cache, keeping the
// control plane's own fields. It returns the pod and whether it was new; nil
// for a container that is not a pod or is already gone.
func (c *podCache) observe(ctr rt.Container) (*pod, bool) {
	ns, name := ctr.Labels[LabelNamespace], ctr.Labels[LabelPod]
	if name == "" {
		return nil, false
	}
	if ns == "" {
		ns = api.DefaultNamespace
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, gone := c.gone[ctr.ID]; gone {
		// Seen by a list or an inspect that raced its removal: reviving
		// the pod would count a replica that no longer exists.
		return nil, false
	}
	id := podID(ns, name)
	p, ok := c.pods[id]
	if !ok {
		p = podFromContainer(ctr)
		c.pods[id] = p
		return p.clone(), true
	}
	if !ctr.Running() && p.container.Running() {
		p.ready = false
	}
	p.container = ctr
	return p.clone(), false
}

// podFromContainer rebuilds a pod from a container's labels, as on adoption
// after a daemon restart.
func podFromContainer(ctr rt.Container) *pod {
	p := &pod{
		name:      ctr.Labels[LabelPod],
		namespace: ctr.Labels[LabelNamespace],
		ownerKind: ctr.Labels[LabelOwnerKind],
		ownerName: ctr.Labels[LabelOwnerName],
		ownerUID:  ctr.Labels[LabelOwnerUID],
		labels:    userLabels(ctr.Labels),
		container: ctr,
		created:   ctr.CreatedAt,
	}
	if p.namespace == "" {
		p.namespace = api.DefaultNamespace
	}
	if s := ctr.Labels[LabelSpec]; s != "" {
		_ = json.Unmarshal([]byte(s), &p.spec) // a bad label leaves an empty spec: no probes
	}
	return p
}

// userLabels drops mini-deploy's own labels, leaving the pod's labels.
func userLabels(all map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range all {
		if len(k) > len("mini-deploy.io/") && k[:len("mini-deploy.io/")] == "mini-deploy.io/" {
			continue
		}
		out[k] = v
	}
	return out
}

// podNameAlphabet is Kubernetes' suffix alphabet: no vowels, no look-alikes.
const podNameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// podName returns <owner>-<5 random chars>, like kubia-v1-x7k2p.
func podName(owner string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = podNameAlphabet[int(b[i])%len(podNameAlphabet)]
	}
	return owner + "-" + string(b[:])
}

// configHash identifies a container configuration, so a pod built from a
// different template can be told apart without parsing its spec.
func configHash(spec api.PodSpec) string {
	b, _ := json.Marshal(spec)
	h := fnv.New32a()
	_, _ = h.Write(b)
	return strconv.FormatUint(uint64(h.Sum32()), 16)
}

// podView renders a pod as the Kubernetes-shaped Pod that `get pods` shows.
func (n *nodeAgent) podView(p *pod) *api.Pod {
	v := &api.Pod{
		TypeMeta: api.TypeMeta{APIVersion: "v1", Kind: api.KindPod},
		ObjectMeta: api.ObjectMeta{
			Name:              p.name,
			Namespace:         p.namespace,
			Labels:            p.labels,
			UID:               p.container.ID,
			CreationTimestamp: api.Time{Time: p.created.UTC().Truncate(time.Second)},
		},
		Spec: p.spec,
	}
	if p.ownerKind != "" {
		yes := true
		apiVersion := "apps/v1"
		if p.ownerKind == api.KindReplicationController {
			apiVersion = "v1"
		}
		v.OwnerReferences = []api.OwnerReference{{APIVersion: apiVersion, Kind: p.ownerKind, Name: p.ownerName, UID: p.ownerUID, Controller: &yes}}
	}
	if p.terminating {
		t := api.Now()
		v.DeletionTimestamp = &t
	}
	name, image := "", p.container.Image
	if len(p.spec.Containers) > 0 {
		name, image = p.spec.Containers[0].Name, p.spec.Containers[0].Image
	}
	cs := api.ContainerStatus{Name: name, Image: image, Ready: p.ready && p.running(), RestartCount: p.restarts}
	if p.container.ID != "" {
		cs.ContainerID = "docker://" + p.container.ID
	}
	if p.lastExit != nil {
		cs.LastState.Terminated = p.lastExit
	}
	status := api.PodStatus{PodIP: p.ip(n.addrs.network), ContainerStatuses: []api.ContainerStatus{cs}}
	switch {
	case p.waiting != "":
		status.Phase = "Pending"
		if p.container.ID != "" {
			status.Phase = "Running"
		}
		status.ContainerStatuses[0].State.Waiting = &api.ContainerStateWaiting{Reason: p.waiting, Message: p.waitingMsg}
	case p.running():
		status.Phase = "Running"
		started := api.Time{Time: p.container.StartedAt.UTC().Truncate(time.Second)}
		status.StartTime = &started
		status.ContainerStatuses[0].State.Running = &api.ContainerStateRunning{StartedAt: started}
		s := true
		status.ContainerStatuses[0].Started = &s
	case p.container.ID != "":
		status.Phase = "Running"
		status.ContainerStatuses[0].State.Terminated = terminatedState(p.container)
	default:
		status.Phase = "Pending"
		status.ContainerStatuses[0].State.Waiting = &api.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	ready := "False"
	if cs.Ready {
		ready = "True"
	}
	status.Conditions = []api.Condition{{Type: "Ready", Status: ready}}
	v.Status = status
	return v
}

func terminatedState(c rt.Container) *api.ContainerStateTerminated {
	reason := "Completed"
	switch {
	case c.OOMKilled:
		reason = "OOMKilled"
	case c.ExitCode != 0:
		reason = "Error"
	}
	return &api.ContainerStateTerminated{
		ExitCode:   int32(c.ExitCode),
		Reason:     reason,
		StartedAt:  api.Time{Time: c.StartedAt.UTC().Truncate(time.Second)},
		FinishedAt: api.Time{Time: c.FinishedAt.UTC().Truncate(time.Second)},
	}
}

// savePodRecord stores p's restart history, so that a restarted daemon
// shows the same RESTARTS for the pods it adopts.
func (n *nodeAgent) savePodRecord(p *pod) {
	rec := &api.PodRecord{
		TypeMeta:   api.TypeMeta{APIVersion: "mini-deploy.io/v1", Kind: api.KindPodRecord},
		ObjectMeta: api.ObjectMeta{Name: p.name, Namespace: p.namespace},
		Status:     api.PodRecordStatus{ContainerID: p.container.ID, RestartCount: p.restarts, LastExit: p.lastExit},
	}
	_, err := n.store.Update(rec)
	if errors.Is(err, store.ErrNotFound) {
		_, err = n.store.Create(rec)
	}
	if err != nil {
		n.log.Warn("save pod record", "pod", p.name, "error", err)
	}
}

// restorePodRecord gives an adopted pod the restart history saved for its
// container.
func (n *nodeAgent) restorePodRecord(p *pod) {
	obj, err := n.store.Get(api.Key{Kind: api.KindPodRecord, Namespace: p.namespace, Name: p.name})
	if err != nil {
		return
	}
	rec := obj.(*api.PodRecord)
	if rec.Status.ContainerID != p.container.ID {
		return
	}
	n.pods.update(p.namespace, p.name, func(cp *pod) {
		cp.restarts, cp.lastExit = rec.Status.RestartCount, rec.Status.LastExit
	})
}

// forgetPodRecord drops the history of a pod that is gone.
func (n *nodeAgent) forgetPodRecord(p *pod) {
	if p.restarts == 0 {
		return // only restarted pods have a record
	}
	key := api.Key{Kind: api.KindPodRecord, Namespace: p.namespace, Name: p.name}
	if _, err := n.store.Delete(key, ""); err != nil && !errors.Is(err, store.ErrNotFound) {
		n.log.Warn("forget pod record", "pod", p.name, "error", err)
	}
}
