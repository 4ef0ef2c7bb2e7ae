package dataplane

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	"github.com/mini-deploy/mini-deploy/proxy/host"
)

type noRecorder struct{}

func (noRecorder) Eventf(api.Object, string, string, string, ...any) {}

// The data plane alone: a store with a Service, pods handed to it as values,
// an httptest server as the pod. A request through the node port reaches the
// ready pod; once the pod is not ready and its namespace is pushed, the
// proxy answers 503, and a drain of the pod returns.
func TestDataPlaneAloneRoutesToReadyPods(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "This is v1 running in pod kubia-abcde\n")
	}))
	t.Cleanup(backend.Close)
	ip, portStr, _ := net.SplitHostPort(backend.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)

	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var mu sync.Mutex
	pod := Pod{Namespace: "default", Name: "kubia-abcde", Labels: map[string]string{"app": "kubia"}, Ready: true,
		Revision: "v1", IP: ip, Ports: []api.ContainerPort{{ContainerPort: int32(port)}}}
	services := NewServiceIndex()
	h := host.New(host.Options{})
	m := New(Options{
		Store: st, Services: services, Host: h, Address: "127.0.0.1", Log: slog.New(slog.DiscardHandler),
		Recorder: noRecorder{},
		Pods: func() []Pod {
			mu.Lock()
			defer mu.Unlock()
			return []Pod{pod}
		},
	})
	t.Cleanup(func() { m.StopAllProxies(); m.ReleaseAll(); _ = h.Shutdown(context.Background()) })
	if err := m.Activate(context.Background()); err != nil {
		t.Fatal(err)
	}

	svc := &api.Service{
		TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: api.KindService},
		ObjectMeta: api.ObjectMeta{Name: "kubia", Namespace: "default"},
		Spec: api.ServiceSpec{Selector: map[string]string{"app": "kubia"},
			Ports: []api.ServicePort{{Port: 80, TargetPort: api.IntOrString{IntVal: int32(port)}}}},
	}
	reserved := map[int32]net.Listener{}
	if err := m.AllocateNodePorts(svc, nil, nil, reserved); err != nil {
		t.Fatal(err)
	}
	stored, err := st.Create(svc)
	if err != nil {
		t.Fatal(err)
	}
	services.Put(stored, false)
	if _, err := m.SyncService(context.Background(), api.KeyOf(stored)); err != nil {
		t.Fatal(err)
	}
	url := api.ServiceURLs(svc, "127.0.0.1")[0]
	get := func() (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != http.StatusOK || body != "This is v1 running in pod kubia-abcde\n" {
		t.Fatalf("through the node port: %d %q", code, body)
	}
	if ep := m.EndpointsView(stored.(*api.Service)); len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 {
		t.Errorf("endpoints %+v, want the one ready pod", ep.Subsets)
	}

	mu.Lock()
	pod.Ready = false
	mu.Unlock()
	m.PushNamespace("default")
	if code, _ := get(); code != http.StatusServiceUnavailable {
		t.Fatalf("with no ready pod: %d, want 503", code)
	}
	m.DrainPod(context.Background(), pod)
}
