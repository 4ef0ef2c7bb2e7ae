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

	"github.com/mini-deploy/mini-deploy/proxy/host"
)

// metrics serves the control plane's own metrics (Go runtime, process) with
// the data plane's (every Service's requests by pod and revision, package
// proxy/host), which it gathers from wherever the proxies run.
type metrics struct {
	registry  *prometheus.Registry
	dataplane prometheus.Gatherer
	addr      string
}

func newMetrics(dataplane prometheus.Gatherer) *metrics {
	m := &metrics{registry: prometheus.NewRegistry(), dataplane: dataplane}
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// serve exposes /metrics on addr (loopback by default).
func (m *metrics) serve(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address %s: %w", addr, err)
	}
	m.addr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(prometheus.Gatherers{m.registry, m.dataplane}, promhttp.HandlerOpts{}))
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
	mfs, _ := o.metrics.dataplane.Gather()
	type key struct {
		service, pod, revision string
		code                   int
	}
	sums := map[key]uint64{}
	for _, mf := range mfs {
		if mf.GetName() != host.RequestsMetric {
			continue
		}
		for _, pb := range mf.GetMetric() {
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
	}
	out := make([]RequestCount, 0, len(sums))
	for k, n := range sums {
		out = append(out, RequestCount{Service: k.service, Pod: k.pod, Revision: k.revision, Code: k.code, Count: n})
	}
	return out
}
