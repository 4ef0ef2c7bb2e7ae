// Package dataplane is what kube-proxy and the endpoints controller are to
// Kubernetes: it turns stored Services and ready pods into the desired state
// of the data plane (a listener per node port, with the ready pods behind
// it), pushes that to where the proxies run, allocates node ports, and drains
// a pod out of every proxy when the node agent asks, before the pod is
// signalled. It never writes an object and never touches a container: it
// sees pods as Pod values, handed to it by the node agent's side.
//
// The proxies themselves run in a Host (package proxy/host): in this process
// for tests and the deploytest kit, or in data-plane processes of their own
// in the daemon, which keep serving with the last state pushed while the
// control plane is down. Every push is the whole state (level-triggered), so
// a control plane that restarts simply pushes again.
//
// Where a change goes: which pods a Service sends to is stateLocked; how a
// pod is drained before it stops is DrainPod (the signal itself is the node
// agent's, orchestrator/node/terminate.go); node port allocation is
// nodeports.go; how traffic is balanced among the endpoints is package proxy;
// how a data plane process runs and is reached is package proxy/host.
package dataplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/labels"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	"github.com/mini-deploy/mini-deploy/proxy"
	"github.com/mini-deploy/mini-deploy/proxy/host"
)

// Pod is what the data plane knows of a pod: enough to select it and to
// route to it.
type Pod struct {
	Namespace   string
	Name        string
	ContainerID string
	Labels      map[string]string
	Ready       bool
	Revision    string              // labels its requests in metrics
	IP          string              // on the pods' network; "" when it has none
	HostPorts   map[int]string      // published ports, where container IPs are not routable
	Ports       []api.ContainerPort // its container's declared ports
	// ImplicitPort is the port of its implicit readiness check (0: none);
	// only a drain needs it.
	ImplicitPort int
}

// Host is where the proxies run: a host.Host in this process (tests, the
// deploytest kit), or a host.Fleet of data-plane processes that outlive the
// control plane (the daemon).
type Host interface {
	// Apply makes the proxies serve s, the whole desired state.
	Apply(ctx context.Context, s host.State) (host.Status, error)
	// Drain returns once no proxy has a request in flight to addrs, having
	// taken them out of every endpoint set.
	Drain(ctx context.Context, addrs []string) error
}

// Options are what a Manager is built from.
type Options struct {
	Store *store.Store
	// Pods lists the running pods that are not terminating, sorted by
	// namespace and name.
	Pods     func() []Pod
	Services *ServiceIndex
	Host     Host
	Address  string // where proxies listen
	Publish  bool   // pods publish their ports on 127.0.0.1
	Log      *slog.Logger
	Recorder Recorder
}

// Recorder records an event about an object.
type Recorder interface {
	Eventf(obj api.Object, eventType, reason, format string, args ...any)
}

// Manager keeps the data plane serving every stored Service: it computes
// the whole desired state (every node port, with the ready pods behind it)
// and pushes it to the Host after each change.
type Manager struct {
	store    *store.Store
	pods     func() []Pod
	services *ServiceIndex
	host     Host
	address  string
	publish  bool
	log      *slog.Logger
	recorder Recorder

	// mu serialises pushes: computing and pushing under one lock keeps the
	// order of pushes the order of computations, so a late push can never
	// bring back a pod that a newer computation dropped.
	mu       sync.Mutex
	served   map[api.Key]*api.Service
	active   bool                   // pushes wait for Activate
	failed   map[string]string      // by listen address: why it could not listen, from the last push
	reserved map[int32]net.Listener // node ports held open until the data plane serves them
}

// New returns a Manager; it pushes nothing until Activate.
func New(opts Options) *Manager {
	return &Manager{
		store: opts.Store, pods: opts.Pods, services: opts.Services, host: opts.Host, address: opts.Address,
		publish: opts.Publish, log: opts.Log, recorder: opts.Recorder,
		served: map[api.Key]*api.Service{}, failed: map[string]string{}, reserved: map[int32]net.Listener{},
	}
}

// Addr is where the host reaches a port of a container: its IP on the
// pods' network, or the published 127.0.0.1 port where container IPs are not
// routable (publish).
func Addr(ip string, hostPorts map[int]string, publish bool, port int) string {
	if publish {
		if addr, ok := hostPorts[port]; ok {
			return addr
		}
	}
	return net.JoinHostPort(ip, strconv.Itoa(port))
}

func (d *Manager) addr(p Pod, port int) string { return Addr(p.IP, p.HostPorts, d.publish, port) }

// listenAddr is where the proxy of a node port listens.
func (d *Manager) listenAddr(nodePort int32) string {
	return net.JoinHostPort(d.address, strconv.Itoa(int(nodePort)))
}

// Activate starts the pushes, once the caller has given the Manager every
// stored Service (SyncService) and the pods are known. Until then a data
// plane that outlived the control plane keeps serving what it had, rather
// than a partial state in which most Services would be missing.
func (d *Manager) Activate(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.active = true
	return d.pushLocked(ctx)
}

// SyncService records the stored Service (or its deletion) and pushes the
// desired state: its proxies listen on its node ports, with its ready pods.
// It returns an error, and records an event, when a node port cannot be
// listened on; the caller retries.
func (d *Manager) SyncService(ctx context.Context, key api.Key) (time.Duration, error) {
	obj, err := d.store.Get(key)
	if errors.Is(err, store.ErrNotFound) {
		d.services.Remove(key)
		d.mu.Lock()
		delete(d.served, key)
		err := d.pushLocked(ctx)
		d.mu.Unlock()
		return 0, err
	}
	if err != nil {
		return 0, err
	}
	svc := obj.(*api.Service)
	// What was just read is the freshest state: paths that read the index
	// (a pod's termination) must not push endpoints of an older selector.
	d.services.Put(svc, false)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.served[key] = svc
	// The data plane binds the node ports itself: let go of the ones
	// reserved when they were allocated.
	for _, p := range svc.Spec.Ports {
		if l := d.reserved[p.NodePort]; l != nil {
			delete(d.reserved, p.NodePort)
			_ = l.Close()
		}
	}
	if err := d.pushLocked(ctx); err != nil || !d.active {
		return 0, err
	}
	var failed error
	for _, p := range svc.Spec.Ports {
		if why, ok := d.failed[d.listenAddr(p.NodePort)]; ok && p.NodePort != 0 {
			failed = errors.New(why)
			d.recorder.Eventf(svc, api.EventTypeWarning, "FailedListen", "%s", why)
			break
		}
	}
	return 0, failed
}

// pushLocked sends the whole desired state to the data plane. The caller
// holds d.mu.
func (d *Manager) pushLocked(ctx context.Context) error {
	if !d.active {
		return nil
	}
	st, err := d.host.Apply(ctx, d.stateLocked())
	if err != nil {
		d.log.Warn("data plane not updated", "error", err)
		return fmt.Errorf("data plane: %w", err)
	}
	d.failed = st.Failed
	return nil
}

// stateLocked computes what the data plane should serve: a listener per
// node port of every Service, with the ready pods as endpoints.
func (d *Manager) stateLocked() host.State {
	var st host.State
	pods := d.pods()
	for _, svc := range d.served {
		// Validated; absent or zero, the proxy's defaults.
		maxConns, _ := strconv.Atoi(svc.Annotations[api.AnnotationMaxConnections])
		dial, _ := time.ParseDuration(svc.Annotations[api.AnnotationConnectTimeout])
		header, _ := time.ParseDuration(svc.Annotations[api.AnnotationResponseHeaderTimeout])
		selected := d.selectedFrom(svc, pods)
		for _, port := range svc.Spec.Ports {
			if port.NodePort == 0 {
				continue
			}
			l := host.Listener{
				Address: d.listenAddr(port.NodePort), Service: svc.Name,
				MaxConns: maxConns, DialTimeout: dial, ResponseHeaderTimeout: header,
				Endpoints: []proxy.Endpoint{},
			}
			for _, pd := range selected {
				if !pd.Ready {
					continue
				}
				if tp := api.ResolvePort(pd.Ports, port.TargetPort, port.Port); tp != 0 {
					l.Endpoints = append(l.Endpoints, proxy.Endpoint{Pod: pd.Name, Addr: d.addr(pd, tp), Revision: pd.Revision})
				}
			}
			st.Listeners = append(st.Listeners, l)
		}
	}
	slices.SortFunc(st.Listeners, func(a, b host.Listener) int { return strings.Compare(a.Address, b.Address) })
	return st
}

// servicePods returns the running, not terminating pods svc selects, with an
// address, sorted by name. A Service without a selector selects nothing.
func (d *Manager) servicePods(svc *api.Service) []Pod { return d.selectedFrom(svc, d.pods()) }

func (d *Manager) selectedFrom(svc *api.Service, pods []Pod) []Pod {
	if len(svc.Spec.Selector) == 0 {
		return nil
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	ns := api.KeyOf(svc).Namespace
	var out []Pod
	for _, p := range pods {
		if p.Namespace != ns || !sel.Matches(p.Labels) {
			continue
		}
		if p.IP == "" && !d.publish {
			continue
		}
		out = append(out, p)
	}
	return out
}

// PushNamespace pushes the desired state now, without the queue: the
// termination path must see its pod out of every proxy before it drains.
// (The whole state is pushed; the namespace names the pod's.)
func (d *Manager) PushNamespace(namespace string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = d.pushLocked(ctx)
}

// DrainPod waits until no proxy has a request in flight to p. The pod must
// already be out of every endpoint set.
func (d *Manager) DrainPod(ctx context.Context, p Pod) {
	ports := map[int]bool{}
	for _, cp := range p.Ports {
		ports[int(cp.ContainerPort)] = true
	}
	if p.ImplicitPort > 0 {
		ports[p.ImplicitPort] = true
	}
	for _, svc := range d.services.In("") {
		for _, sp := range svc.Spec.Ports {
			if port := api.ResolvePort(p.Ports, sp.TargetPort, sp.Port); port > 0 {
				ports[port] = true
			}
		}
	}
	addrs := make([]string, 0, len(ports))
	for port := range ports {
		addrs = append(addrs, d.addr(p, port))
	}
	slices.Sort(addrs)
	if err := d.host.Drain(ctx, addrs); err != nil {
		d.log.Warn("drain cut short", "pod", p.Name, "error", err)
	}
}

// StopAllProxies stops serving every Service (mini-deploy down).
func (d *Manager) StopAllProxies() {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.served)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = d.pushLocked(ctx)
}

// EndpointsView renders a Service's pods as Kubernetes' Endpoints object.
func (d *Manager) EndpointsView(svc *api.Service) *api.Endpoints {
	ep := &api.Endpoints{
		TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: api.KindEndpoints},
		ObjectMeta: api.ObjectMeta{Name: svc.Name, Namespace: api.KeyOf(svc).Namespace, Labels: svc.Labels, CreationTimestamp: svc.CreationTimestamp},
	}
	// A pod that lacks a named targetPort has no endpoint for it, as in
	// Kubernetes; the proxy sends it nothing either.
	pods := slices.DeleteFunc(d.servicePods(svc), func(p Pod) bool {
		for _, sp := range svc.Spec.Ports {
			if api.ResolvePort(p.Ports, sp.TargetPort, sp.Port) == 0 {
				return true
			}
		}
		return false
	})
	if len(pods) == 0 {
		return ep
	}
	var subset api.EndpointSubset
	for _, p := range pods {
		addr := api.EndpointAddress{IP: p.IP, TargetRef: &api.ObjectReference{Kind: api.KindPod, Namespace: p.Namespace, Name: p.Name, UID: p.ContainerID}}
		if p.Ready {
			subset.Addresses = append(subset.Addresses, addr)
		} else {
			subset.NotReadyAddresses = append(subset.NotReadyAddresses, addr)
		}
	}
	for _, sp := range svc.Spec.Ports {
		port := api.ResolvePort(pods[0].Ports, sp.TargetPort, sp.Port)
		subset.Ports = append(subset.Ports, api.EndpointPort{Name: sp.Name, Port: int32(port), Protocol: sp.Protocol})
	}
	ep.Subsets = []api.EndpointSubset{subset}
	return ep
}

// ProxyFailures reports, by Service and node port, why a proxy could not
// listen.
func (d *Manager) ProxyFailures() map[api.Key]map[int32]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[api.Key]map[int32]string{}
	for key, svc := range d.served {
		for _, p := range svc.Spec.Ports {
			if why, ok := d.failed[d.listenAddr(p.NodePort)]; ok && p.NodePort != 0 {
				if out[key] == nil {
					out[key] = map[int32]string{}
				}
				out[key][p.NodePort] = why
			}
		}
	}
	return out
}
