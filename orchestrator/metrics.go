package orchestrator

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/mini-deploy/mini-deploy/proxy"
)

// metrics implements proxy.Metrics with Prometheus: per Service, pod and
// revision (pod-template-hash, or the owning controller's name), so a rollout
// shows as one revision's traffic turning into the next one's.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inflight *prometheus.GaugeVec
	retries  *prometheus.CounterVec
	ejected  *prometheus.CounterVec
	ready    *prometheus.GaugeVec
	addr     string
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minideploy_service_requests_total",
			Help: "Requests answered by a Service's proxy, by pod, revision, method and status code.",
		}, []string{"service", "pod", "revision", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "minideploy_service_request_duration_seconds",
			Help:    "Time from a request's arrival at the proxy to the end of its response.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"service"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "minideploy_service_requests_in_flight",
			Help: "Requests being served by a Service's proxy.",
		}, []string{"service"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minideploy_service_retries_total",
			Help: "Requests sent again to another pod after a failure before any response byte.",
		}, []string{"service", "pod"}),
		ejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "minideploy_service_ejections_total",
			Help: "Times a pod was taken out of rotation by the proxy's passive health checking.",
		}, []string{"service", "pod"}),
		ready: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "minideploy_service_ready_endpoints",
			Help: "Ready endpoints behind a Service port.",
		}, []string{"service"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.inflight, m.retries, m.ejected, m.ready,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

var _ proxy.Metrics = (*metrics)(nil)

func (m *metrics) RequestDone(service string, ep proxy.Endpoint, method string, code int, d time.Duration) {
	m.requests.WithLabelValues(service, ep.Pod, ep.Revision, method, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(service).Observe(d.Seconds())
}

func (m *metrics) Retry(service string, from proxy.Endpoint) {
	m.retries.WithLabelValues(service, from.Pod).Inc()
}

func (m *metrics) InFlight(service string, delta int) {
	m.inflight.WithLabelValues(service).Add(float64(delta))
}

// EndpointGone deletes the series of a pod that left the Service, so that
// pods coming and going leave nothing behind.
func (m *metrics) EndpointGone(service string, ep proxy.Endpoint) {
	m.requests.DeletePartialMatch(prometheus.Labels{"service": service, "pod": ep.Pod})
	m.retries.DeleteLabelValues(service, ep.Pod)
	m.ejected.DeleteLabelValues(service, ep.Pod)
}

func (m *metrics) Ejected(service string, ep proxy.Endpoint) {
	m.ejected.WithLabelValues(service, ep.Pod).Inc()
}

func (m *metrics) ReadyEndpoints(service string, n int) {
	m.ready.WithLabelValues(service).Set(float64(n))
}

// serve exposes /metrics on addr (loopback by default).
func (m *metrics) serve(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address %s: %w", addr, err)
	}
	m.addr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }() // ends with ErrServerClosed on Close
	return srv, nil
}

// RequestCount is the running total of the requests one pod of one
// Service's revision answered with one status code (0: no answer). A pod's
// series goes when it leaves the Service, so a reader takes differences per
// series, never of sums.
type RequestCount struct {
	Service  string
	Pod      string // "" for requests no pod answered (503 without endpoints)
	Revision string
	Code     int
	Count    uint64
}

// RequestCounts reads the proxies' request counters, summed over methods:
// the numbers the dashboard turns into requests per second by revision. They
// are the same counters /metrics exports.
func (o *Orchestrator) RequestCounts() []RequestCount {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		o.metrics.requests.Collect(ch)
		close(ch)
	}()
	type key struct {
		service, pod, revision string
		code                   int
	}
	sums := map[key]uint64{}
	for m := range ch {
		var pb dto.Metric
		if m.Write(&pb) != nil {
			continue
		}
		var k key
		for _, l := range pb.GetLabel() {
			switch l.GetName() {
			case "service":
				k.service = l.GetValue()
			case "pod":
				k.pod = l.GetValue()
			case "revision":
				k.revision = l.GetValue()
			case "code":
				k.code, _ = strconv.Atoi(l.GetValue())
			}
		}
		sums[k] += uint64(pb.GetCounter().GetValue())
	}
	out := make([]RequestCount, 0, len(sums))
	for k, n := range sums {
		out = append(out, RequestCount{Service: k.service, Pod: k.pod, Revision: k.revision, Code: k.code, Count: n})
	}
	return out
}
