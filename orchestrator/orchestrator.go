// Package orchestrator is mini-deploy's control plane as a library: give it a
// container runtime and a store, call Run, and it keeps the Docker engine
// converging to the objects in the store.
//
// The store holds desired state (ReplicationControllers, ReplicaSets,
// Deployments, Services). Observed state lives on the containers, as labels.
// Level-triggered controllers take one object key at a time from a
// de-duplicating work queue (internal/workqueue), fed by store changes,
// engine events, readiness changes and a periodic resync, and each reconcile
// reads what is, compares it with what should be, and acts.
//
// The parts are shaped as Kubernetes shapes its own, and each has a room:
//
//	Orchestrator             orchestrator.go   the composition root: builds the parts, runs the queue's workers, routes keys
//	backend.API              backend/          the API layer (kube-apiserver): validates, stores, answers; no proxy, no runtime
//	deployment.Controller    deployment/       the Deployment controller
//	replicaset.Controller    replicaset/       the ReplicaSet/ReplicationController controller
//	rollingupdate.Controller rollingupdate/     the legacy `rolling-update`, carried out on the server
//	node.Agent               node/             the kubelet: containers, restarts, probes, pod cache, termination protocol
//	node.Deleter             node/cascade.go   deleting an object deletes what it owns (the garbage collector's job)
//	dataplane.Manager        dataplane/        kube-proxy and the endpoints controller: desired proxies, node ports, drains
//	host.Host, host.Fleet    ../proxy/host/    where the proxies run: here, or data-plane processes of their own
//	dataplane.ServiceIndex   dataplane/        the stored Services as the watch last saw them (a lister)
//	record.Recorder          internal/record/  Events, as kubectl shows them
//
// They talk through narrow interfaces, not through the Orchestrator: a
// controller asks the node agent for pods (replicaset.NodeAgent); the node
// agent reaches the data plane only for the drain hand-shake (node.Drainer);
// the API layer sees both through backend.Pods and backend.Services.
//
// Where a change goes: a new controller is a package with NewController and
// Reconcile(ctx, key), and an entry in the controllers map of New; how a pod
// stops is node/terminate.go (and DrainPod in package dataplane for the
// proxies' side); how a pod starts or restarts is node/node.go; how
// readiness is decided is node/probe.go; which pods a Service sends to is
// pushEndpoints in package dataplane (how traffic is balanced among them is
// package proxy).
//
// The daemon (cmd/mini-deploy daemon) hosts an Orchestrator behind the API of
// package server; the deploytest kit embeds one inside `go test`.
package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/backend"
	"github.com/mini-deploy/mini-deploy/orchestrator/dataplane"
	"github.com/mini-deploy/mini-deploy/orchestrator/deployment"
	"github.com/mini-deploy/mini-deploy/orchestrator/internal/record"
	"github.com/mini-deploy/mini-deploy/orchestrator/internal/workqueue"
	"github.com/mini-deploy/mini-deploy/orchestrator/node"
	"github.com/mini-deploy/mini-deploy/orchestrator/replicaset"
	"github.com/mini-deploy/mini-deploy/orchestrator/rollingupdate"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	"github.com/mini-deploy/mini-deploy/proxy/host"
	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// DataPlane is where the Service proxies run, and where their metrics are
// read.
type DataPlane interface {
	dataplane.Host
	prometheus.Gatherer
}

// Labels mini-deploy puts on every pod container, next to the template's own
// labels: the observed state. The node agent owns them (package node); they
// are named here too for the CLI and the test kit.
const (
	LabelInstance   = node.LabelInstance
	LabelPod        = node.LabelPod
	LabelNamespace  = node.LabelNamespace
	LabelOwnerKind  = node.LabelOwnerKind
	LabelOwnerName  = node.LabelOwnerName
	LabelOwnerUID   = node.LabelOwnerUID
	LabelConfigHash = node.LabelConfigHash
	LabelSpec       = node.LabelSpec
)

// Defaults for Options.
const (
	DefaultAddress      = "127.0.0.1"
	DefaultNetwork      = "mini-deploy"
	DefaultInstance     = "default"
	DefaultResyncPeriod = 10 * time.Second
)

// Options configure an Orchestrator. The zero value works.
type Options struct {
	// Address is where Service proxies listen (default 127.0.0.1).
	Address string
	// Network is the Docker bridge network pods run on (default mini-deploy).
	Network string
	// Instance isolates this control plane's containers from another's on the
	// same engine (a label on every container); default "default".
	Instance string
	// ExtraLabels are put on every container and network created, e.g. a
	// test session label.
	ExtraLabels map[string]string
	// MetricsAddr, when set, serves Prometheus metrics there ("127.0.0.1:0").
	MetricsAddr string
	// PublishPorts publishes pod ports on 127.0.0.1 for engines whose
	// container IPs the host cannot reach (Docker Desktop).
	PublishPorts bool
	// ResyncPeriod is how often every object is reconciled even without a
	// change (default 10s): engine events can be missed.
	ResyncPeriod time.Duration
	Logger       *slog.Logger
	// Version is reported by Info.
	Version string
	// Home is the state directory, reported by Info.
	Home string
	// OnDown is called after Down removed everything (the daemon exits).
	OnDown func()
	// DataPlane is where the Service proxies run: in the daemon, a
	// host.Fleet of data-plane processes that keep serving while the control
	// plane is down. Nil: a host.Host in this process, stopped when Run
	// returns.
	DataPlane DataPlane
	// ProbeDial opens the connections of TCP and HTTP probes (default: a
	// net.Dialer). Tests on the fake engine, whose pods have no address,
	// answer them in memory.
	ProbeDial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Orchestrator runs the controllers and the Service proxies.
type Orchestrator struct {
	// The API layer answers every verb: Apply, Get, List, Delete and the rest
	// are its methods.
	*backend.API

	rt       rt.Runtime
	store    *store.Store
	opts     Options
	log      *slog.Logger
	ready    chan struct{}
	queue    *workqueue.Queue
	recorder *record.Recorder
	deploy   *deployment.Controller
	metrics  *metrics
	started  time.Time

	services       *dataplane.ServiceIndex // the stored Services, kept by the store's watch
	dataplane      *dataplane.Manager
	localHost      *host.Host // the proxies, when they run in this process
	node           *node.Agent
	replicaSets    *replicaset.Controller
	rollingUpdates *rollingupdate.Controller
	deleter        *node.Deleter
	controllers    map[string]reconciler // by kind

	bg     sync.WaitGroup // terminations and probe workers
	bgCtx  context.Context
	cancel context.CancelFunc
}

// New returns an Orchestrator over a runtime and a store. It does nothing
// until Run.
func New(runtime rt.Runtime, st *store.Store, opts Options) (*Orchestrator, error) {
	if runtime == nil || st == nil {
		return nil, errors.New("orchestrator: a runtime and a store are required")
	}
	if opts.Address == "" {
		opts.Address = DefaultAddress
	}
	if opts.Network == "" {
		opts.Network = DefaultNetwork
	}
	if opts.Instance == "" {
		opts.Instance = DefaultInstance
	}
	if opts.ResyncPeriod <= 0 {
		opts.ResyncPeriod = DefaultResyncPeriod
	}
	if opts.ProbeDial == nil {
		opts.ProbeDial = (&net.Dialer{}).DialContext
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	o := &Orchestrator{
		rt:       runtime,
		store:    st,
		opts:     opts,
		log:      opts.Logger,
		ready:    make(chan struct{}),
		queue:    workqueue.New(),
		services: dataplane.NewServiceIndex(),
	}
	if opts.DataPlane == nil {
		o.localHost = host.New(host.Options{Version: opts.Version, Log: opts.Logger})
		opts.DataPlane = o.localHost
		o.opts.DataPlane = o.localHost
	}
	o.metrics = newMetrics(opts.DataPlane)
	o.recorder = record.New(st, opts.Logger)
	o.node = node.New(node.Options{
		Runtime: runtime, Store: st, Services: o.services, Network: opts.Network, Publish: opts.PublishPorts,
		Instance: opts.Instance, Labels: o.ownLabels(), Log: opts.Logger, Recorder: o.recorder,
		ProbeDial: opts.ProbeDial, Background: &o.bg, Enqueue: o.queue.Add, Changed: o.podChanged,
	})
	o.dataplane = dataplane.New(dataplane.Options{
		Store: st, Pods: o.node.RoutablePods, Services: o.services, Host: opts.DataPlane,
		Address: opts.Address, Publish: opts.PublishPorts, Log: opts.Logger, Recorder: o.recorder,
	})
	o.node.SetDrainer(o.dataplane)
	o.replicaSets = replicaset.NewController(st, o.node, opts.Logger)
	o.deleter = node.NewDeleter(st, o.node)
	o.rollingUpdates = rollingupdate.NewController(st, o.node.OwnedPodCount, o.deleter)
	o.deploy = &deployment.Controller{Store: st, Recorder: o.recorder, Log: opts.Logger}
	// The controller of each kind; a kind without one is only stored.
	o.controllers = map[string]reconciler{
		api.KindReplicationController: o.replicaSets,
		api.KindReplicaSet:            o.replicaSets,
		api.KindDeployment:            o.deploy,
		api.KindService:               reconcileFunc(o.dataplane.SyncService),
		api.KindRollingUpdate:         o.rollingUpdates,
	}
	o.API = backend.New(st, o.node.ForAPI(), o.dataplane, o.deleter, backend.Options{
		Version: opts.Version, Home: opts.Home, Address: opts.Address, Network: opts.Network,
		Started:    func() time.Time { return o.started },
		MetricsURL: o.metrics.url,
		OnDown:     opts.OnDown,
	}, opts.Logger)
	return o, nil
}

// Ready is closed once Run has adopted the existing containers and started
// every Service proxy.
func (o *Orchestrator) Ready() <-chan struct{} { return o.ready }

// workers reconciling keys in parallel; keys never run twice at once.
const workers = 4

// Run reconciles until ctx ends, then stops the proxies and returns. The
// containers keep running: the next Run adopts them.
func (o *Orchestrator) Run(ctx context.Context) error {
	o.started = time.Now()
	o.recorder.Start()
	defer o.recorder.Stop()
	o.bgCtx, o.cancel = context.WithCancel(ctx)
	defer o.cancel()
	if err := o.rt.Ping(ctx); err != nil {
		return fmt.Errorf("container engine: %w", err)
	}
	if _, err := o.rt.EnsureNetwork(ctx, o.opts.Network, o.ownLabels()); err != nil {
		return fmt.Errorf("network %q: %w", o.opts.Network, err)
	}
	var metricsSrv *http.Server
	if o.opts.MetricsAddr != "" {
		srv, err := o.metrics.serve(o.opts.MetricsAddr)
		if err != nil {
			return err
		}
		metricsSrv = srv
	}
	// Watch before the first list, so no change between the two is lost.
	changes := o.store.Watch(o.bgCtx)
	services, err := o.store.List(api.KindService, "")
	if err != nil {
		return fmt.Errorf("read the Services from the store: %w", err)
	}
	for _, obj := range services {
		o.services.Put(obj, false)
	}
	events := o.rt.Events(o.bgCtx)
	// Adopted pods are probed, and then the proxies listen, before the first
	// reconcile: a restarted daemon serves its Services at once, with the
	// pods that answer, instead of a moment of 503s.
	if err := o.node.Start(o.bgCtx); err != nil {
		return err
	}
	for _, obj := range services {
		if _, err := o.dataplane.SyncService(ctx, api.KeyOf(obj)); err != nil {
			o.log.Warn("service not served yet", "service", obj.Meta().Name, "error", err)
		}
	}
	// Every Service is known: the data plane now gets the whole state (one
	// that outlived the previous control plane served the old one meanwhile).
	if err := o.dataplane.Activate(ctx); err != nil {
		o.log.Warn("data plane not updated yet", "error", err)
	}
	o.enqueueAll()

	var loops sync.WaitGroup
	loops.Add(3)
	go func() { defer loops.Done(); o.watchStore(changes) }()
	go func() { defer loops.Done(); o.watchEngine(ctx, events) }()
	go func() { defer loops.Done(); o.resyncLoop(o.bgCtx) }()
	for range workers {
		loops.Add(1)
		go func() { defer loops.Done(); o.work(o.bgCtx) }()
	}
	close(o.ready)
	o.log.Info("control plane running", "network", o.opts.Network, "address", o.opts.Address)

	<-ctx.Done()
	o.queue.Shutdown()
	o.cancel()
	loops.Wait()
	o.bg.Wait()
	if o.localHost != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = o.localHost.Shutdown(sctx)
		cancel()
	}
	o.dataplane.ReleaseAll()
	if metricsSrv != nil {
		_ = metricsSrv.Close()
	}
	return nil
}

// ownLabels are put on everything this instance creates.
func (o *Orchestrator) ownLabels() map[string]string {
	l := map[string]string{LabelInstance: o.opts.Instance}
	maps.Copy(l, o.opts.ExtraLabels)
	return l
}

func (o *Orchestrator) enqueueAll() {
	for _, k := range api.Kinds(nil) {
		if _, ok := o.controllers[k.Kind]; !ok {
			continue
		}
		objs, err := o.store.List(k.Kind, "")
		if err != nil {
			// Nothing is enqueued, so nothing acts on a partial view; the
			// next resync tries again.
			o.log.Error("resync: list", "kind", k.Kind, "error", err)
			continue
		}
		for _, obj := range objs {
			o.queue.Add(api.KeyOf(obj))
		}
	}
}

// watchStore turns store changes into keys: the object itself, and the
// Deployment that owns a changed ReplicaSet.
func (o *Orchestrator) watchStore(changes <-chan store.Event) {
	for ev := range changes {
		obj := ev.Object
		kind := obj.GetTypeMeta().Kind
		if kind == api.KindEvent {
			continue
		}
		if _, ok := o.controllers[kind]; ok {
			o.queue.Add(api.KeyOf(obj))
		}
		if kind == api.KindService {
			o.services.Put(obj, ev.Type == store.Deleted)
		}
		for _, ref := range obj.Meta().OwnerReferences {
			if ref.Controller != nil && *ref.Controller {
				o.queue.Add(api.Key{Kind: ref.Kind, Namespace: api.KeyOf(obj).Namespace, Name: ref.Name})
			}
		}
		if kind == api.KindService {
			o.node.SyncProbes() // an implicit readiness port may have changed
		}
	}
}

// watchEngine follows container events; a resync event relists everything.
func (o *Orchestrator) watchEngine(ctx context.Context, events <-chan rt.Event) {
	for ev := range events {
		if ev.Type != rt.EventResync {
			o.node.HandleEvent(ctx, ev)
			continue
		}
		if err := o.node.Resync(ctx); err != nil {
			o.log.Warn("relist after engine reconnect", "error", err)
		}
		o.enqueueAll()
	}
}

// podChanged enqueues everything that depends on a pod: its owner and the
// Services of its namespace.
func (o *Orchestrator) podChanged(namespace, ownerKind, ownerName string) {
	if ownerKind != "" {
		o.queue.Add(api.Key{Kind: ownerKind, Namespace: namespace, Name: ownerName})
	}
	for _, svc := range o.services.In(namespace) {
		o.queue.Add(api.KeyOf(svc))
	}
}

func (o *Orchestrator) resyncLoop(ctx context.Context) {
	t := time.NewTicker(o.opts.ResyncPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := o.node.Resync(ctx); err != nil {
				o.log.Warn("resync", "error", err)
				continue
			}
			o.enqueueAll()
			o.recorder.Prune()
		}
	}
}

func (o *Orchestrator) work(ctx context.Context) {
	for {
		key, ok := o.queue.Get()
		if !ok {
			return
		}
		requeue, err := o.reconcile(ctx, key)
		switch {
		case err != nil:
			o.log.Warn("reconcile failed", "key", key.String(), "error", err)
			o.queue.AddRateLimited(key)
		case requeue > 0:
			o.queue.Forget(key)
			o.queue.AddAfter(key, requeue)
		default:
			o.queue.Forget(key)
		}
		o.queue.Done(key)
	}
}

func (o *Orchestrator) reconcile(ctx context.Context, key api.Key) (time.Duration, error) {
	if c, ok := o.controllers[key.Kind]; ok {
		return c.Reconcile(ctx, key)
	}
	return 0, nil
}

// reconciler is a controller as the workers see it: one key at a time;
// a duration asks to look again then.
type reconciler interface {
	Reconcile(ctx context.Context, key api.Key) (time.Duration, error)
}

// reconcileFunc is a reconciler that is a function.
type reconcileFunc func(ctx context.Context, key api.Key) (time.Duration, error)

// Reconcile calls f.
func (f reconcileFunc) Reconcile(ctx context.Context, key api.Key) (time.Duration, error) {
	return f(ctx, key)
}

// ServiceURLs returns http://address:nodePort for each port of svc.
func (o *Orchestrator) ServiceURLs(svc *api.Service) []string {
	return api.ServiceURLs(svc, o.opts.Address)
}

// url is where the metrics are served, "" when they are not.
func (m *metrics) url() string {
	if m.addr == "" {
		return ""
	}
	return "http://" + m.addr + "/metrics"
}
