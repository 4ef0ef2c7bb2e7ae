package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/dataplane"
	"github.com/mini-deploy/mini-deploy/orchestrator/internal/record"
	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// Implicit readiness: a pod with no readiness probe is checked with a TCP
// connect on the port a Service targets (or its first declared port), fast
// until it first answers, so the seed's probe-less manifests never receive
// traffic before they listen and roll out without errors.
const (
	implicitFastPeriod = 20 * time.Millisecond
	implicitPeriod     = time.Second
	implicitTimeout    = time.Second
	implicitFailures   = 3
)

// prober is the kubelet's prober manager: one readiness and one liveness
// worker per running container, readiness results recorded on the pod cache
// and told to the controllers (changed) and, for a pod that stops being
// ready, to the data plane at once.
type prober struct {
	rt       rt.Runtime // exec probes; a liveness failure restarts the container
	pods     *podCache
	services *dataplane.ServiceIndex // for the implicit readiness port
	addrs    addressing
	log      *slog.Logger
	recorder *record.Recorder
	drainer  Drainer
	changed  func(*pod) // a pod's readiness changed
	bg       *sync.WaitGroup
	ctx      context.Context // the control plane's; set by Run before any probe

	mu      sync.Mutex
	workers map[string]*probeWorker // by namespace/name

	// dial opens probe connections (Options.ProbeDial).
	dial          func(ctx context.Context, network, addr string) (net.Conn, error)
	probeHTTPOnce sync.Once
	probeHTTP     *http.Client
}

// probeWorker runs the readiness and liveness checks of one container start.
type probeWorker struct {
	containerID string
	started     time.Time
	cancel      context.CancelFunc
}

// syncProbes starts a worker for every running pod that has none for its
// current container start, and stops the workers of pods that are gone,
// stopped or terminating.
func (pr *prober) syncProbes() {
	if pr.ctx == nil {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	want := map[string]*pod{}
	for _, p := range pr.pods.snapshot() {
		if p.running() && !p.terminating {
			want[podID(p.namespace, p.name)] = p
		}
	}
	for id, w := range pr.workers {
		p, ok := want[id]
		if !ok || p.container.ID != w.containerID || !p.container.StartedAt.Equal(w.started) {
			w.cancel()
			delete(pr.workers, id)
		}
	}
	for id, p := range want {
		if _, ok := pr.workers[id]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(pr.ctx)
		pr.workers[id] = &probeWorker{containerID: p.container.ID, started: p.container.StartedAt, cancel: cancel}
		pr.bg.Add(2)
		go func() { defer pr.bg.Done(); pr.readinessLoop(ctx, p) }()
		go func() { defer pr.bg.Done(); pr.livenessLoop(ctx, p) }()
	}
}

func (pr *prober) readinessLoop(ctx context.Context, p *pod) {
	c := p.spec.Containers
	var probe *api.Probe
	if len(c) > 0 {
		probe = c[0].ReadinessProbe
	}
	if probe == nil {
		pr.implicitReadiness(ctx, p)
		return
	}
	successes, failures := 0, 0
	if !sleepUntil(ctx, p.container.StartedAt.Add(seconds(probe.InitialDelaySeconds))) {
		return
	}
	for {
		err := pr.runProbe(ctx, p, probe)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			successes, failures = successes+1, 0
			if successes >= int(max(probe.SuccessThreshold, 1)) {
				pr.setReady(p.namespace, p.name, true)
			}
		} else {
			successes, failures = 0, failures+1
			if failures >= int(max(probe.FailureThreshold, 1)) {
				if pr.setReady(p.namespace, p.name, false) {
					podEventf(pr.recorder, p, api.EventTypeWarning, "Unhealthy", "Readiness probe failed: %v", err)
				}
			}
		}
		if !sleep(ctx, periodOf(probe)) {
			return
		}
	}
}

func (pr *prober) implicitReadiness(ctx context.Context, p *pod) {
	failures := 0
	for {
		port := implicitPort(p, pr.services.In(p.namespace))
		var err error
		if port > 0 {
			err = pr.dialTCP(ctx, pr.addrs.podAddr(p, port), implicitTimeout)
		}
		if ctx.Err() != nil {
			return
		}
		ready := false
		if cur, ok := pr.pods.get(p.namespace, p.name); ok {
			ready = cur.ready
		}
		if err == nil {
			failures = 0
			pr.setReady(p.namespace, p.name, true)
		} else if failures++; failures >= implicitFailures || !ready {
			pr.setReady(p.namespace, p.name, false)
		}
		period := implicitPeriod
		if !ready && err != nil {
			period = implicitFastPeriod
		}
		if !sleep(ctx, period) {
			return
		}
	}
}

func (pr *prober) livenessLoop(ctx context.Context, p *pod) {
	if len(p.spec.Containers) == 0 || p.spec.Containers[0].LivenessProbe == nil {
		return
	}
	probe := p.spec.Containers[0].LivenessProbe
	if !sleepUntil(ctx, p.container.StartedAt.Add(seconds(probe.InitialDelaySeconds))) {
		return
	}
	failures := 0
	for {
		err := pr.runProbe(ctx, p, probe)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			failures = 0
		} else if failures++; failures >= int(max(probe.FailureThreshold, 1)) {
			name := p.spec.Containers[0].Name
			podEventf(pr.recorder, p, api.EventTypeWarning, "Unhealthy", "Liveness probe failed: %v", err)
			podEventf(pr.recorder, p, api.EventTypeNormal, "Killing", "Container %s failed liveness probe, will be restarted", name)
			pr.setReady(p.namespace, p.name, false)
			if err := pr.rt.Stop(ctx, p.container.ID, gracePeriod(p)); err != nil {
				pr.log.Warn("stop after failed liveness probe", "pod", p.name, "error", err)
			}
			return // the die event restarts it and a new worker follows
		}
		if !sleep(ctx, periodOf(probe)) {
			return
		}
	}
}

// runProbe performs one check.
func (pr *prober) runProbe(ctx context.Context, p *pod, probe *api.Probe) error {
	timeout := seconds(max(probe.TimeoutSeconds, 1))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case probe.HTTPGet != nil:
		g := probe.HTTPGet
		addr := pr.addrs.podAddr(p, resolvePort(p, g.Port, 0))
		if g.Host != "" {
			_, port, _ := net.SplitHostPort(addr)
			addr = net.JoinHostPort(g.Host, port)
		}
		path := g.Path
		if path == "" {
			path = "/"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			return err
		}
		for _, h := range g.HTTPHeaders {
			req.Header.Add(h.Name, h.Value)
		}
		req.Header.Set("User-Agent", "mini-deploy-probe/1.0")
		resp, err := pr.probeClient().Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case probe.TCPSocket != nil:
		addr := pr.addrs.podAddr(p, resolvePort(p, probe.TCPSocket.Port, 0))
		return pr.dialTCP(ctx, addr, timeout)
	case probe.Exec != nil:
		// A probe keeps the start of what the command prints, for the
		// event; the rest is read and dropped.
		out := &headWriter{max: maxProbeOutput}
		res, err := pr.rt.Exec(ctx, p.container.ID, probe.Exec.Command, out)
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("command %q exited with %d: %s", probe.Exec.Command, res.ExitCode, api.Truncate(string(out.b), 200))
		}
		return nil
	}
	return nil
}

// probeClient never reuses connections: a probe must see the pod as a new
// client would.
func (pr *prober) probeClient() *http.Client {
	pr.probeHTTPOnce.Do(func() {
		pr.probeHTTP = &http.Client{
			Transport: &http.Transport{
				DisableKeepAlives: true,
				DialContext:       func(ctx context.Context, nw, a string) (net.Conn, error) { return pr.dial(ctx, nw, a) },
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	})
	return pr.probeHTTP
}

// dialTCP opens and closes a connection: the TCP check. Unit tests replace
// Options.ProbeDial, so that no probe leaves the process.
func (pr *prober) dialTCP(ctx context.Context, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := pr.dial(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if pr.addrs.publish {
		// A published port is Docker's userland proxy, which accepts even
		// while nothing listens in the container and then hangs up at once.
		// A listening server keeps a silent new connection open instead.
		_ = c.SetReadDeadline(time.Now().Add(publishedCheckWait))
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil && !isTimeout(err) {
			return fmt.Errorf("%s closed the connection at once: nothing listens behind the published port (%w)", addr, err)
		}
	}
	return nil
}

// publishedCheckWait is how long a TCP check through a published port waits
// to see whether the connection is closed behind it.
const publishedCheckWait = 100 * time.Millisecond

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// setReady records a readiness result and, when it changed, wakes the owner
// and the Services. It reports whether it changed.
func (pr *prober) setReady(namespace, name string, ready bool) bool {
	changed := false
	var snapshot *pod
	pr.pods.update(namespace, name, func(p *pod) {
		p.probed = true
		if ready && (p.terminating || !p.running()) {
			return
		}
		if p.ready != ready {
			changed = true
			p.ready = ready
			if ready {
				p.readySince = time.Now()
			}
			snapshot = p.clone()
		}
	})
	if changed {
		pr.log.Debug("readiness changed", "pod", name, "ready", ready)
		pr.changed(snapshot)
		if !ready {
			pr.drainer.PushNamespace(namespace)
		}
	}
	return changed
}

func periodOf(p *api.Probe) time.Duration {
	if p.PeriodSeconds <= 0 {
		return 10 * time.Second
	}
	return seconds(p.PeriodSeconds)
}

func seconds(n int32) time.Duration { return time.Duration(n) * time.Second }

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	if d := time.Until(t); d > 0 {
		return sleep(ctx, d)
	}
	return ctx.Err() == nil
}

// maxProbeOutput bounds what an exec probe keeps of its command's output.
const maxProbeOutput = 10 << 10

// headWriter keeps the first max bytes written to it and drops the rest.
type headWriter struct {
	b   []byte
	max int
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.max - len(w.b); room > 0 {
		w.b = append(w.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
