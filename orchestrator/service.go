package orchestrator

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

// dataPlane is what kube-proxy and the endpoints controller are to
// Kubernetes: it turns stored Services and ready pods into listening proxies
// with endpoints, allocates node ports, and drains a pod out of every proxy
// when the node agent asks, before the pod is signalled. It never writes an
// object and never touches a container.
type dataPlane struct {
	store    *store.Store
	pods     *podCache
	services *serviceIndex
	addrs    addressing
	address  string // where proxies listen
	log      *slog.Logger
	recorder *recorder
	metrics  *metrics
	bg       *sync.WaitGroup // background drains, waited for by Run

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

type servicePort struct {
	port  api.ServicePort
	proxy *proxy.Proxy
}

// SyncService makes the Service's proxies listen on its node ports and
// pushes the current endpoints into them. A deleted Service's proxies stop.
func (d *dataPlane) SyncService(ctx context.Context, key api.Key) (time.Duration, error) {
	obj, err := d.store.Get(key)
	if errors.Is(err, store.ErrNotFound) {
		d.services.remove(key)
		d.stopServiceProxies(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	svc := obj.(*api.Service)
	// What was just read is the freshest state: paths that read the index
	// (a pod's termination) must not push endpoints of an older selector.
	d.services.put(svc, false)
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
		p := proxy.New(proxy.Options{
			Service: svc.Name,
			Listen:  net.JoinHostPort(d.address, strconv.Itoa(int(np))),
			Logger:  d.log,
			Metrics: d.metrics,
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
func (d *dataPlane) pushEndpoints(svc *api.Service) {
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
			if !pd.ready {
				continue
			}
			port := resolvePort(pd, p.port.TargetPort, p.port.Port)
			if port == 0 {
				continue
			}
			eps = append(eps, proxy.Endpoint{Pod: pd.name, Addr: d.addrs.podAddr(pd, port), Revision: revisionOf(pd)})
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
func (d *dataPlane) servicePods(svc *api.Service) []*pod {
	if len(svc.Spec.Selector) == 0 {
		return nil
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	ns := api.KeyOf(svc).Namespace
	var out []*pod
	for _, p := range d.pods.snapshot() {
		if p.namespace != ns || p.terminating || !p.running() || !sel.Matches(p.labels) {
			continue
		}
		if p.ip(d.addrs.network) == "" && !d.addrs.publish {
			continue
		}
		out = append(out, p)
	}
	return out
}

// syncServiceEndpoints pushes endpoints to every Service of a namespace now,
// without the queue: the termination path must see its pod out of every
// proxy before it drains.
func (d *dataPlane) syncServiceEndpoints(namespace string) {
	for _, svc := range d.services.in(namespace) {
		d.pushEndpoints(svc)
	}
}

// drainPod waits until no proxy has a request in flight to p. The pod must
// already be out of every endpoint set.
func (d *dataPlane) drainPod(ctx context.Context, p *pod) {
	d.mu.Lock()
	var all []*proxy.Proxy
	for _, sp := range d.proxies {
		for _, port := range sp.proxies {
			all = append(all, port.proxy)
		}
	}
	d.mu.Unlock()
	ports := map[int]bool{}
	for _, c := range p.spec.Containers {
		for _, cp := range c.Ports {
			ports[int(cp.ContainerPort)] = true
		}
	}
	if port := implicitPort(p, d.services.in(p.namespace)); port > 0 {
		ports[port] = true
	}
	for _, svc := range d.services.in("") {
		for _, sp := range svc.Spec.Ports {
			if port := resolvePort(p, sp.TargetPort, sp.Port); port > 0 {
				ports[port] = true
			}
		}
	}
	for _, pr := range all {
		for port := range ports {
			if err := pr.Drain(ctx, d.addrs.podAddr(p, port)); err != nil {
				d.log.Warn("drain cut short", "pod", p.name, "error", err)
			}
		}
	}
}

func (d *dataPlane) stopServiceProxies(key api.Key) {
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
func (d *dataPlane) StopAllProxies() {
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

// revisionOf labels a pod's requests in metrics: the pod-template-hash of a
// Deployment's pod, else its owner's name (kubia-v1, kubia-v2).
func revisionOf(p *pod) string {
	if h := p.labels[api.LabelPodTemplateHash]; h != "" {
		return h
	}
	return p.ownerName
}

// EndpointsView renders a Service's pods as Kubernetes' Endpoints object.
func (d *dataPlane) EndpointsView(svc *api.Service) *api.Endpoints {
	ep := &api.Endpoints{
		TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: api.KindEndpoints},
		ObjectMeta: api.ObjectMeta{Name: svc.Name, Namespace: api.KeyOf(svc).Namespace, Labels: svc.Labels, CreationTimestamp: svc.CreationTimestamp},
	}
	// A pod that lacks a named targetPort has no endpoint for it, as in
	// Kubernetes; the proxy sends it nothing either.
	pods := slices.DeleteFunc(d.servicePods(svc), func(p *pod) bool {
		for _, sp := range svc.Spec.Ports {
			if resolvePort(p, sp.TargetPort, sp.Port) == 0 {
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
		addr := api.EndpointAddress{IP: p.ip(d.addrs.network), TargetRef: &api.ObjectReference{Kind: api.KindPod, Namespace: p.namespace, Name: p.name, UID: p.container.ID}}
		if p.ready {
			subset.Addresses = append(subset.Addresses, addr)
		} else {
			subset.NotReadyAddresses = append(subset.NotReadyAddresses, addr)
		}
	}
	for _, sp := range svc.Spec.Ports {
		port := resolvePort(pods[0], sp.TargetPort, sp.Port)
		subset.Ports = append(subset.Ports, api.EndpointPort{Name: sp.Name, Port: int32(port), Protocol: sp.Protocol})
	}
	ep.Subsets = []api.EndpointSubset{subset}
	return ep
}

// ProxyFailures reports, by Service and node port, why a proxy could not
// listen.
func (d *dataPlane) ProxyFailures() map[api.Key]map[int32]string {
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

// ServiceURLs returns http://address:nodePort for each port of svc.
func (o *Orchestrator) ServiceURLs(svc *api.Service) []string {
	return api.ServiceURLs(svc, o.opts.Address)
}
