package orchestrator_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/internal/orchtest"

	rt "github.com/mini-deploy/mini-deploy/runtime"
	"github.com/mini-deploy/mini-deploy/runtime/fake"
)

// A container's resources reach the engine as the kubelet sets cgroups.
func TestResourcesReachTheEngine(t *testing.T) {
	f := fake.New()
	f.AddImage("luksa/kubia:v1")
	h := orchtest.New(t, f, t.TempDir())
	h.Apply(strings.Replace(orchtest.KubiaDeployment(), "        image: luksa/kubia:v1\n",
		"        image: luksa/kubia:v1\n        resources:\n          limits: {cpu: 500m, memory: 128Mi}\n          requests: {cpu: 250m}\n", 1))
	h.Eventually("a pod", func() bool {
		return len(h.Pods("app=kubia")) == 1 && orchtest.ContainerID(h.Pods("app=kubia")[0]) != ""
	})
	c, err := f.Inspect(context.Background(), orchtest.ContainerID(h.Pods("app=kubia")[0]))
	if err != nil {
		t.Fatal(err)
	}
	want := rt.Resources{NanoCPUs: 500_000_000, CPUShares: 256, MemoryLimit: 128 << 20, MemoryReservation: 128 << 20}
	if c.Resources != want {
		t.Errorf("engine resources %+v, want %+v", c.Resources, want)
	}
}
