package orchestrator_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/internal/orchtest"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
	"github.com/mini-deploy/mini-deploy/runtime/fake"
)

func serviceManifest(name string, nodePort int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %s
spec:
  type: NodePort
  selector:
    app: kubia
  ports:
  - port: 80
    targetPort: 8080
    nodePort: %d
`, name, nodePort)
}

func TestNodePortInUseIsAClearErrorAndStoresNothing(t *testing.T) {
	h := orchtest.New(t, fake.New(), t.TempDir())
	// Another program holds a port in the node port range.
	var ln net.Listener
	var port int
	for p := 30000; p <= 32767 && ln == nil; p += 97 {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			ln, port = l, p
		}
	}
	if ln == nil {
		t.Fatal("no free port to occupy")
	}
	defer ln.Close()
	objs, err := api.DecodeManifests("svc.yaml", []byte(serviceManifest("kubia", port)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.O.Apply(context.Background(), objs, server.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(port)) || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("apply error %v, want one naming port %d and saying it is in use", err, port)
	}
	if objs, _ := h.Store.List(api.KindService, ""); len(objs) != 0 {
		t.Fatalf("%d services stored after a rejected apply", len(objs))
	}
}

func TestNodePortOfAnotherServiceIsRejected(t *testing.T) {
	h := orchtest.New(t, fake.New(), t.TempDir())
	h.Apply(strings.Replace(orchtest.SeedRC(), "    targetPort: 8080\n", "    targetPort: 8080\n    nodePort: 30999\n", 1))
	objs, err := api.DecodeManifests("svc.yaml", []byte(serviceManifest("other", 30999)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.O.Apply(context.Background(), objs, server.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "provided port is already allocated") {
		t.Fatalf("apply error %v, want Kubernetes' 'provided port is already allocated'", err)
	}
}

func TestAllocatedNodePortIsKeptAcrossApplies(t *testing.T) {
	h := orchtest.New(t, fake.New(), t.TempDir())
	h.Apply(orchtest.SeedRC())
	get := func() int32 {
		obj, err := h.O.Get(context.Background(), api.KindService, "default", "kubia")
		if err != nil {
			t.Fatal(err)
		}
		return obj.(*api.Service).Spec.Ports[0].NodePort
	}
	first := get()
	if first < 30000 || first > 32767 { // Kubernetes' default range, as the design says
		t.Fatalf("allocated nodePort %d outside %d-%d", first, 30000, 32767)
	}
	res := h.Apply(orchtest.SeedRC())
	if got := get(); got != first {
		t.Fatalf("nodePort changed from %d to %d on re-apply", first, got)
	}
	for _, r := range res {
		if r.Action != "unchanged" {
			t.Errorf("re-apply of the same file: %s %s %s, want unchanged", r.Kind, r.Name, r.Action)
		}
	}
	// A port whose number changes keeps its node port: ports are matched by
	// name, as the Kubernetes API server does (the seed's one port has none).
	h.Apply(strings.Replace(orchtest.SeedRC(), "  - port: 80\n", "  - port: 8081\n", 1))
	obj, _ := h.O.Get(context.Background(), api.KindService, "default", "kubia")
	if port := obj.(*api.Service).Spec.Ports[0].Port; port != 8081 {
		t.Fatalf("port %d after the apply, want 8081", port)
	}
	if got := get(); got != first {
		t.Errorf("nodePort changed from %d to %d when the port's number changed", first, got)
	}
}

// A named targetPort that the pods do not declare gives them no endpoint:
// the Endpoints view must agree with the proxy, which sends them nothing.
func TestNamedTargetPortThePodsLackGivesNoEndpoints(t *testing.T) {
	_, h := orchtest.StartSeed(t)
	h.Apply(`apiVersion: v1
kind: Service
metadata:
  name: named
spec:
  selector:
    app: kubia
  ports:
  - port: 80
    targetPort: http
`)
	h.Apply(`apiVersion: v1
kind: Service
metadata:
  name: numbered
spec:
  selector:
    app: kubia
  ports:
  - port: 80
    targetPort: 8080
`)
	get := func(name string) *api.Endpoints {
		obj, err := h.O.Get(context.Background(), api.KindEndpoints, "default", name)
		if err != nil {
			t.Fatal(err)
		}
		return obj.(*api.Endpoints)
	}
	if ep := get("named"); len(ep.Subsets) != 0 {
		t.Errorf("endpoints of a Service whose targetPort the pods lack: %+v, want none", ep.Subsets)
	}
	h.Eventually("3 endpoints on port 8080", func() bool {
		ep := get("numbered")
		return len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 3 && ep.Subsets[0].Ports[0].Port == 8080
	})
}

// A Service whose node port another program took while the daemon was down
// is reported by Info, which `up` prints beside the URL, and served once
// the port is free again.
func TestNodePortTakenWhileDownIsReportedAndRetried(t *testing.T) {
	dir := t.TempDir()
	f := fake.New()
	h := orchtest.New(t, f, dir)
	res := h.Apply(serviceManifest("kubia", 0))
	obj, err := h.O.Get(context.Background(), api.KindService, "default", res[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	np := obj.(*api.Service).Spec.Ports[0].NodePort
	h.Stop()

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", np))
	if err != nil {
		t.Fatalf("take port %d: %v", np, err)
	}
	h = orchtest.New(t, f, dir)
	notServing := func() []server.PortProblem {
		info, err := h.O.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return info.NotServing
	}
	h.Eventually("the taken port reported", func() bool { return len(notServing()) == 1 })
	if pp := notServing()[0]; pp.Name != "kubia" || pp.NodePort != np || !strings.Contains(pp.Error, "address already in use") {
		t.Errorf("NotServing = %+v", pp)
	}
	ln.Close()
	h.Eventually("the port served once free", func() bool { return len(notServing()) == 0 })
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", np))
	if err != nil {
		t.Fatalf("port %d not served after it was freed: %v", np, err)
	}
	conn.Close()
}
