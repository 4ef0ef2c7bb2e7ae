package host

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mini-deploy/mini-deploy/proxy"
)

// Metrics implements proxy.Metrics with Prometheus: per Service, pod and
// revision (pod-template-hash, or the owning controller's name), so a rollout
// shows as one revision's traffic turning into the next one's. Its registry
// holds the proxies' series only; the process that exports them adds its
// own (Go runtime, process).
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inflight *prometheus.GaugeVec
	retries  *prometheus.CounterVec
	ejected  *prometheus.CounterVec
	ready    *prometheus.GaugeVec
}

// RequestsMetric is the name of the request counter, by service, pod,
// revision, method and code.
const RequestsMetric = "minideploy_service_requests_total"

// NewMetrics returns the proxies' metrics on a registry of their own.
func NewMetrics() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: RequestsMetric,
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
	m.registry.MustRegister(m.requests, m.latency, m.inflight, m.retries, m.ejected, m.ready)
	return m
}

// Gather returns the proxies' metric families (prometheus.Gatherer).
func (m *Metrics) Gather() ([]*dto.MetricFamily, error) { return m.registry.Gather() }

var _ proxy.Metrics = (*Metrics)(nil)

func (m *Metrics) RequestDone(service string, ep proxy.Endpoint, method string, code int, d time.Duration) {
	m.requests.WithLabelValues(service, ep.Pod, ep.Revision, method, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(service).Observe(d.Seconds())
}

func (m *Metrics) Retry(service string, from proxy.Endpoint) {
	m.retries.WithLabelValues(service, from.Pod).Inc()
}

func (m *Metrics) InFlight(service string, delta int) {
	m.inflight.WithLabelValues(service).Add(float64(delta))
}

// EndpointGone deletes the series of a pod that left the Service, so that
// pods coming and going leave nothing behind.
func (m *Metrics) EndpointGone(service string, ep proxy.Endpoint) {
	m.requests.DeletePartialMatch(prometheus.Labels{"service": service, "pod": ep.Pod})
	m.retries.DeleteLabelValues(service, ep.Pod)
	m.ejected.DeleteLabelValues(service, ep.Pod)
}

func (m *Metrics) Ejected(service string, ep proxy.Endpoint) {
	m.ejected.WithLabelValues(service, ep.Pod).Inc()
}

func (m *Metrics) ReadyEndpoints(service string, n int) {
	m.ready.WithLabelValues(service).Set(float64(n))
}
