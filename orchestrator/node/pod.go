package node

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/dataplane"
	"github.com/mini-deploy/mini-deploy/orchestrator/internal/record"
	"github.com/mini-deploy/mini-deploy/orchestrator/labels"
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

// pod is the control plane's record of one pod: the container as the engine
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

// A pod as the ReplicaSet controller sees it (replicaset.Pod): p is always
// a snapshot there, never the cache's own.

func (p *pod) Namespace() string         { return p.namespace }
func (p *pod) Name() string              { return p.name }
func (p *pod) OwnerUID() string          { return p.ownerUID }
func (p *pod) Labels() map[string]string { return p.labels }
func (p *pod) Terminating() bool         { return p.terminating }
func (p *pod) HasContainer() bool        { return p.container.ID != "" }
func (p *pod) Running() bool             { return p.running() }
func (p *pod) Ready() bool               { return p.ready }
func (p *pod) ReadySince() time.Time     { return p.readySince }
func (p *pod) Restarts() int32           { return p.restarts }
func (p *pod) Created() time.Time        { return p.created }

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

// ownedCount counts the pods an owner has, terminating ones included.
func (c *podCache) ownedCount(ownerUID string) int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := 0
	for _, p := range c.pods {
		if p.ownerUID == ownerUID {
			n++
		}
	}
	return n
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

// implicitPort is the port a pod with no readiness probe is checked on: a
// numeric targetPort of one of services selecting it, else its first declared
// container port; 0 means there is nothing to check: running is ready.
func implicitPort(p *pod, services []*api.Service) int {
	for _, svc := range services {
		if len(svc.Spec.Selector) == 0 {
			continue
		}
		if !labels.SelectorFromSet(svc.Spec.Selector).Matches(p.labels) {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			if port := resolvePort(p, sp.TargetPort, sp.Port); port > 0 {
				return port
			}
		}
	}
	if len(p.spec.Containers) > 0 && len(p.spec.Containers[0].Ports) > 0 {
		return int(p.spec.Containers[0].Ports[0].ContainerPort)
	}
	return 0
}

// resolvePort turns a number or a container port name into a number.
func resolvePort(p *pod, target api.IntOrString, fallback int32) int {
	return api.ResolvePort(p.ports(), target, fallback)
}

// ports are the pod's container's declared ports.
func (p *pod) ports() []api.ContainerPort {
	if len(p.spec.Containers) == 0 {
		return nil
	}
	return p.spec.Containers[0].Ports
}

// podAddr is where the host reaches a pod's port: its IP on the network, or
// the published 127.0.0.1 port where container IPs are not routable.
func (a addressing) podAddr(p *pod, port int) string {
	return dataplane.Addr(p.ip(a.network), p.container.HostPorts, a.publish, port)
}

// endpoint is p as the data plane sees it. services, when given, are the
// Services of its namespace, for the port of its implicit readiness check,
// which a drain needs.
func (a addressing) endpoint(p *pod, services []*api.Service) dataplane.Pod {
	rev := p.labels[api.LabelPodTemplateHash]
	if rev == "" {
		rev = p.ownerName // kubia-v1, kubia-v2: the legacy controllers' revisions
	}
	ep := dataplane.Pod{
		Namespace: p.namespace, Name: p.name, ContainerID: p.container.ID, Labels: p.labels, Ready: p.ready,
		Revision: rev, IP: p.ip(a.network), HostPorts: p.container.HostPorts, Ports: p.ports(),
	}
	if services != nil {
		ep.ImplicitPort = implicitPort(p, services)
	}
	return ep
}

// addressing says how the host reaches pods, for the node agent's probes
// and the data plane's proxies alike.
type addressing struct {
	network string // the Docker network pods run on
	publish bool   // pods publish their ports on 127.0.0.1 (Options.PublishPorts)
}

// podEventf records an event about a pod (pods are not stored objects).
func podEventf(r *record.Recorder, p *pod, eventType, reason, format string, args ...any) {
	ref := api.ObjectReference{Kind: api.KindPod, Namespace: p.namespace, Name: p.name, UID: p.container.ID}
	r.Record(ref, eventType, reason, fmt.Sprintf(format, args...))
}
