// Package orchtest runs a whole control plane on the fake engine for the
// orchestrator's tests: Start, apply manifests, wait for pods. It is the one
// harness those tests share, importable rather than a _test file the others
// lean on. Probes never leave the process: every dial succeeds on an
// in-memory pipe.
//
// A test of one part alone (a controller, the node agent) does not need it:
// it builds that part on the fake runtime and a store, as
// replicaset_controller_test.go does.
package orchtest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	"github.com/mini-deploy/mini-deploy/runtime/fake"
	"github.com/mini-deploy/mini-deploy/runtime/runtimetest"
)

// Harness is one control plane on a fake engine, stopped when the test ends.
type Harness struct {
	T     *testing.T
	RT    *fake.Runtime
	Store *store.Store
	O     *orchestrator.Orchestrator

	cancel context.CancelFunc
	done   chan error
}

// New runs an orchestrator on f with its state in dir.
func New(t *testing.T, f *fake.Runtime, dir string, tweaks ...func(*orchestrator.Options)) *Harness {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := orchestrator.Options{
		ResyncPeriod: time.Second,
		Address:      "127.0.0.1",
		ProbeDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			a, b := net.Pipe()
			_ = b.Close()
			return a, nil
		},
	}
	for _, tweak := range tweaks {
		tweak(&opts)
	}
	o, err := orchestrator.New(f, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Harness{T: t, RT: f, Store: st, O: o, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- o.Run(ctx) }()
	select {
	case <-o.Ready():
	case err := <-h.done:
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(h.Stop)
	return h
}

// Stop ends the control plane and closes its store; the containers stay.
func (h *Harness) Stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
	h.cancel = nil
	_ = h.Store.Close()
}

// Apply applies a manifest and fails the test on any error.
func (h *Harness) Apply(manifest string) []server.ApplyResult {
	h.T.Helper()
	objs, err := api.DecodeManifests("test.yaml", []byte(manifest))
	if err != nil {
		h.T.Fatal(err)
	}
	res, err := h.O.Apply(context.Background(), objs, server.ApplyOptions{})
	if err != nil {
		h.T.Fatal(err)
	}
	return res
}

// Eventually waits until cond holds.
func (h *Harness) Eventually(what string, cond func() bool) {
	h.T.Helper()
	runtimetest.Eventually(h.T, 10*time.Second, 20*time.Millisecond, what, cond)
}

// Pods lists the default namespace's pods that selector matches.
func (h *Harness) Pods(selector string) []*api.Pod {
	objs, err := h.O.List(context.Background(), api.KindPod, "default", selector)
	if err != nil {
		h.T.Fatal(err)
	}
	out := make([]*api.Pod, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*api.Pod))
	}
	return out
}

// ReadyPods counts the ready pods that are not being deleted.
func (h *Harness) ReadyPods(selector string) int {
	n := 0
	for _, p := range h.Pods(selector) {
		if p.DeletionTimestamp == nil && p.Status.ContainerStatuses[0].Ready {
			n++
		}
	}
	return n
}

// StartSeed runs the seed's RC and Service on a fake engine and waits for
// its three pods to be ready.
func StartSeed(t *testing.T) (*fake.Runtime, *Harness) {
	t.Helper()
	f := fake.New()
	f.AddImage("luksa/kubia:v1")
	h := New(t, f, t.TempDir())
	h.Apply(SeedRC())
	h.Eventually("3 ready pods", func() bool { return h.ReadyPods("app=kubia") == 3 })
	return f, h
}

// ContainerID is the engine's ID of a pod's container.
func ContainerID(p *api.Pod) string {
	return strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "docker://")
}

// CountActions counts the fake engine's actions that start with prefix.
func CountActions(actions []string, prefix string) int {
	n := 0
	for _, a := range actions {
		if strings.HasPrefix(a, prefix) {
			n++
		}
	}
	return n
}

// SeedRC is the seed's first YAML, verbatim: a ReplicationController of
// three kubia pods and a Service.
func SeedRC() string { return readRepoFile("examples/seed/rc-v1.yaml") }

// KubiaDeployment is one kubia Deployment with a label that a later apply
// may drop; the API layer's tests use the same file.
func KubiaDeployment() string { return readRepoFile("orchestrator/testdata/kubia-deployment.yaml") }

// readRepoFile reads a file of the repository, wherever the test runs.
func readRepoFile(rel string) string {
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(self), "..", "..", "..")
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		panic(err)
	}
	return string(b)
}
