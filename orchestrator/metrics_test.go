package orchestrator

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/proxy"
	"github.com/mini-deploy/mini-deploy/proxy/host"
)

func TestMetricsAreServedPerServicePodAndRevision(t *testing.T) {
	pm := host.NewMetrics()
	m := newMetrics(pm)
	srv, err := m.serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ep := proxy.Endpoint{Pod: "kubia-5d9f7c6b8-x7k2p", Addr: "unused", Revision: "5d9f7c6b8"}
	pm.InFlight("kubia", 1)
	pm.RequestDone("kubia", ep, "GET", 200, 3*time.Millisecond)
	pm.InFlight("kubia", -1)
	pm.Retry("kubia", ep)
	pm.ReadyEndpoints("kubia", 3)

	resp, err := http.Get("http://" + m.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`minideploy_service_requests_total{code="200",method="GET",pod="kubia-5d9f7c6b8-x7k2p",revision="5d9f7c6b8",service="kubia"} 1`,
		`minideploy_service_request_duration_seconds_count{service="kubia"} 1`,
		`minideploy_service_requests_in_flight{service="kubia"} 0`,
		`minideploy_service_retries_total{pod="kubia-5d9f7c6b8-x7k2p",service="kubia"} 1`,
		`minideploy_service_ready_endpoints{service="kubia"} 3`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A pod that leaves a Service takes its series with it, and a request with an
// invented method adds no series of its own.
func TestMetricsStayBoundedByPodsAndMethods(t *testing.T) {
	m := host.NewMetrics()
	series := func() int {
		n := 0
		mfs, err := m.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if name := mf.GetName(); name == "minideploy_service_requests_total" || name == "minideploy_service_retries_total" {
				n += len(mf.GetMetric())
			}
		}
		return n
	}
	before := series()
	for i := range 100 {
		ep := proxy.Endpoint{Pod: "kubia-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)), Revision: "r"}
		for j := range 10 {
			m.RequestDone("kubia", ep, proxy.MethodLabel(strings.Repeat("Z", 100+j)), 200, time.Millisecond)
		}
		m.Retry("kubia", ep)
		m.EndpointGone("kubia", ep)
	}
	if after := series(); after != before {
		t.Fatalf("%d request and retry series after 100 pods came and went, want %d", after, before)
	}
}

func TestRequestCountsSumMethodsPerPodRevisionAndCode(t *testing.T) {
	pm := host.NewMetrics()
	o := &Orchestrator{metrics: newMetrics(pm)}
	a := proxy.Endpoint{Pod: "kubia-7c9d-aaaaa", Revision: "7c9d"}
	b := proxy.Endpoint{Pod: "kubia-5f6b-bbbbb", Revision: "5f6b"}
	for range 3 {
		pm.RequestDone("kubia", a, "GET", 200, time.Millisecond)
	}
	pm.RequestDone("kubia", a, "POST", 200, time.Millisecond)
	pm.RequestDone("kubia", b, "GET", 200, time.Millisecond)
	pm.RequestDone("kubia", proxy.Endpoint{}, "GET", 503, time.Millisecond)
	got := map[RequestCount]bool{}
	for _, c := range o.RequestCounts() {
		got[c] = true
	}
	want := []RequestCount{
		{Service: "kubia", Pod: a.Pod, Revision: "7c9d", Code: 200, Count: 4},
		{Service: "kubia", Pod: b.Pod, Revision: "5f6b", Code: 200, Count: 1},
		{Service: "kubia", Code: 503, Count: 1},
	}
	if len(got) != len(want) {
		t.Errorf("RequestCounts: %v, want %v", got, want)
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("RequestCounts: no %+v in %v", w, got)
		}
	}
}
