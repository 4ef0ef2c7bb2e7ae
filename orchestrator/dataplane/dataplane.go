// Package dataplane is what kube-proxy and the endpoints controller are to
// Kubernetes: it turns stored Services and ready pods into listening proxies
// with endpoints, allocates node ports, and drains a pod out of every proxy
// when the node agent asks, before the pod is signalled. It never writes an
// object and never touches a container: it sees pods as Pod values, handed
// to it by the node agent's side.
//
// Where a change goes: which pods a Service sends to is pushEndpoints; how a
// pod is drained before it stops is DrainPod (the signal itself is the node
// agent's, orchestrator/node/terminate.go); node port allocation is nodeports.go;
// how traffic is balanced among the endpoints is package proxy.
package dataplane

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/labels"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	"github.com/mini-deploy/mini-deploy/proxy"
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

// Options are what a Manager is built from.
type Options struct {
	Store *store.Store
	// Pods lists the running pods that are not terminating, sorted by
	// namespace and name.
	Pods     func() []Pod
	Services *ServiceIndex
	Address  string // where proxies listen
	Publish  bool   // pods publish their ports on 127.0.0.1
	Log      *slog.Logger
	Recorder Recorder
	Metrics  proxy.Metrics
	// Background counts the background drains, so that the host can wait
	// for them when it stops.
	Background *sync.WaitGroup
}

// Recorder records an event about an object.
type Recorder interface {
	Eventf(obj api.Object, eventType, reason, format string, args ...any)
}

// Manager runs the proxies of every Service.
type Manager struct {
	store    *store.Store
	pods     func() []Pod
	services *ServiceIndex
	address  string
	publish  bool
	log      *slog.Logger
	recorder Recorder
	metrics  proxy.Metrics
	bg       *sync.WaitGroup

	mu       sync.Mutex
	proxies  map[api.Key]*serviceProxies
	reserved map[int32]net.Listener // node ports held open for proxies to come
}

// serviceProxies are the running proxies of one Service, one per port.
type serviceProxies struct {
	uid     string
	proxies map[int32]*servicePort // by nodePort
	// failed holds, by nodePort, why a port's proxy could not listen (another
	// program holds it); SyncService retries with back-off, and Info
	// reports it so that `up` never shows a URL as working when it is not.
	failed map[int32]string
}

// New returns a Manager; it serves nothing until SyncService.
func New(opts Options) *Manager {
	return &Manager{
		store: opts.Store, pods: opts.Pods, services: opts.Services, address: opts.Address, publish: opts.Publish,
		log: opts.Log, recorder: opts.Recorder, metrics: opts.Metrics, bg: opts.Background,
		proxies: map[api.Key]*serviceProxies{}, reserved: map[int32]net.Listener{},
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

type servicePort struct {
	port  api.ServicePort
	proxy *proxy.Proxy
}

// SyncService makes the Service's proxies listen on its node ports and
// pushes the current endpoints into them. A deleted Service's proxies stop.
func (d *Manager) SyncService(ctx context.Context, key api.Key) (time.Duration, error) {
	obj, err := d.store.Get(key)
	if errors.Is(err, store.ErrNotFound) {
		d.services.Remove(key)
		d.stopServiceProxies(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	svc := obj.(*api.Service)
	// What was just read is the freshest state: paths that read the index
	// (a pod's termination) must not push endpoints of an older selector.
	d.services.Put(svc, false)
	d.mu.Lock()
	sp := d.proxies[key]
	if sp != nil && sp.uid != svc.UID { // deleted and re-created
		d.mu.Unlock()
		d.stopServiceProxies(key)
		d.mu.Lock()
		sp = nil
	}
	if sp == nil {
		sp = &serviceProxies{uid: svc.UID, proxies: map[int32]*servicePort{}}
		d.proxies[key] = sp
	}
	want := map[int32]api.ServicePort{}
	for _, port := range svc.Spec.Ports {
		if port.NodePort != 0 {
			want[port.NodePort] = port
		}
	}
	var stale []*proxy.Proxy
	for np, p := range sp.proxies {
		if _, ok := want[np]; !ok {
			stale = append(stale, p.proxy)
			delete(sp.proxies, np)
		}
	}
	var startErr error
	clear(sp.failed)
	for np, port := range want {
		if cur, ok := sp.proxies[np]; ok {
			cur.port = port
			continue
		}
		// Validated; absent or zero, the proxy's defaults.
		maxConns, _ := strconv.Atoi(svc.Annotations[api.AnnotationMaxConnections])
		dial, _ := time.ParseDuration(svc.Annotations[api.AnnotationConnectTimeout])
		header, _ := time.ParseDuration(svc.Annotations[api.AnnotationResponseHeaderTimeout])
		p := proxy.New(proxy.Options{
			Service:               svc.Name,
			Listen:                net.JoinHostPort(d.address, strconv.Itoa(int(np))),
			Logger:                d.log,
			Metrics:               d.metrics,
			MaxConns:              maxConns,
			DialTimeout:           dial,
			ResponseHeaderTimeout: header,
		})
		if ln := d.takeReserved(np); ln != nil {
			p.Serve(ln)
		} else if err := p.Start(); err != nil {
			// The proxy's error names the service and the address already.
			startErr = err
			d.recorder.Eventf(svc, api.EventTypeWarning, "FailedListen", "%v", startErr)
			if sp.failed == nil {
				sp.failed = map[int32]string{}
			}
			sp.failed[np] = err.Error()
			continue
		}
		d.log.Info("service proxy listening", "service", svc.Name, "address", p.Addr())
		sp.proxies[np] = &servicePort{port: port, proxy: p}
	}
	d.mu.Unlock()
	for _, p := range stale {
		go shutdownProxy(p)
	}
	d.pushEndpoints(svc)
	return 0, startErr
}

// pushEndpoints computes the ready pods of svc and swaps them into its
// proxies. Endpoints that left the set are drained in the background so their
// idle connections close; the termination path drains synchronously itself.
func (d *Manager) pushEndpoints(svc *api.Service) {
	key := api.KeyOf(svc)
	// Computing and pushing under one lock keeps the order of pushes the
	// order of computations: a late push can never bring back a pod that a
	// newer computation dropped.
	d.mu.Lock()
	defer d.mu.Unlock()
	sp := d.proxies[key]
	if sp == nil {
		return
	}
	pods := d.servicePods(svc)
	for _, p := range sp.proxies {
		eps := make([]proxy.Endpoint, 0, len(pods))
		for _, pd := range pods {
			if !pd.Ready {
				continue
			}
			port := api.ResolvePort(pd.Ports, p.port.TargetPort, p.port.Port)
			if port == 0 {
				continue
			}
			eps = append(eps, proxy.Endpoint{Pod: pd.Name, Addr: d.addr(pd, port), Revision: pd.Revision})
		}
		old := p.proxy.Endpoints()
		p.proxy.SetEndpoints(eps)
		for _, gone := range removedAddrs(old, eps) {
			pr := p.proxy
			d.bg.Add(1)
			go func() {
				defer d.bg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), proxy.DefaultDrainTimeout)
				defer cancel()
				_ = pr.Drain(ctx, gone)
			}()
		}
	}
}

// servicePods returns the running, not terminating pods svc selects, with an
// address, sorted by name. A Service without a selector selects nothing.
func (d *Manager) servicePods(svc *api.Service) []Pod {
	if len(svc.Spec.Selector) == 0 {
		return nil
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	ns := api.KeyOf(svc).Namespace
	var out []Pod
	for _, p := range d.pods() {
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

// PushNamespace pushes endpoints to every Service of a namespace now,
// without the queue: the termination path must see its pod out of every
// proxy before it drains.
func (d *Manager) PushNamespace(namespace string) {
	for _, svc := range d.services.In(namespace) {
		d.pushEndpoints(svc)
	}
}

// DrainPod waits until no proxy has a request in flight to p. The pod must
// already be out of every endpoint set.
func (d *Manager) DrainPod(ctx context.Context, p Pod) {
	d.mu.Lock()
	var all []*proxy.Proxy
	for _, sp := range d.proxies {
		for _, port := range sp.proxies {
			all = append(all, port.proxy)
		}
	}
	d.mu.Unlock()
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
	for _, pr := range all {
		for port := range ports {
			if err := pr.Drain(ctx, d.addr(p, port)); err != nil {
				d.log.Warn("drain cut short", "pod", p.Name, "error", err)
			}
		}
	}
}

func (d *Manager) stopServiceProxies(key api.Key) {
	d.mu.Lock()
	sp := d.proxies[key]
	delete(d.proxies, key)
	d.mu.Unlock()
	if sp == nil {
		return
	}
	for _, p := range sp.proxies {
		shutdownProxy(p.proxy)
	}
}

// StopAllProxies shuts every proxy down.
func (d *Manager) StopAllProxies() {
	d.mu.Lock()
	keys := make([]api.Key, 0, len(d.proxies))
	for k := range d.proxies {
		keys = append(keys, k)
	}
	d.mu.Unlock()
	for _, k := range keys {
		d.stopServiceProxies(k)
	}
}

func shutdownProxy(p *proxy.Proxy) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.Shutdown(ctx)
}

func removedAddrs(old, cur []proxy.Endpoint) []string {
	keep := map[string]bool{}
	for _, e := range cur {
		keep[e.Addr] = true
	}
	var out []string
	for _, e := range old {
		if !keep[e.Addr] {
			out = append(out, e.Addr)
		}
	}
	return out
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
	for key, sp := range d.proxies {
		if len(sp.failed) > 0 {
			out[key] = maps.Clone(sp.failed)
		}
	}
	return out
}
