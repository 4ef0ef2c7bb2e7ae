package docker_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	rt "github.com/mini-deploy/mini-deploy/runtime"
	"github.com/mini-deploy/mini-deploy/runtime/docker"
	"github.com/mini-deploy/mini-deploy/runtime/docker/dockertest"
	"github.com/mini-deploy/mini-deploy/runtime/runtimetest"
)

func TestContract(t *testing.T) {
	e := dockertest.Require(t)
	runtimetest.BuildHelper(t, e)
	raw := rawClient(t)
	runtimetest.Run(t, func(*testing.T) rt.Runtime { return e }, runtimetest.Options{
		AddForeign: func(t *testing.T, labels map[string]string) string {
			// Straight through the engine's API: this container must not
			// get the managed label the runtime adds.
			resp, err := raw.ContainerCreate(t.Context(), &container.Config{Image: runtimetest.HelperImage, Labels: labels}, nil, nil, nil, "")
			t.Cleanup(func() {
				if resp.ID != "" {
					raw.ContainerRemove(context.Background(), resp.ID, container.RemoveOptions{Force: true})
				}
			})
			if err != nil {
				t.Fatalf("creating the foreign container: %v", err)
			}
			if err := raw.ContainerStart(t.Context(), resp.ID, container.StartOptions{}); err != nil {
				t.Fatalf("starting the foreign container: %v", err)
			}
			return resp.ID
		},
		IsRunning: func(t *testing.T, id string) bool {
			c, err := raw.ContainerInspect(t.Context(), id)
			return err == nil && c.State != nil && c.State.Running
		},
		AddForeignNetwork: func(t *testing.T, name string) {
			resp, err := raw.NetworkCreate(t.Context(), name, network.CreateOptions{Driver: "bridge"})
			t.Cleanup(func() {
				if resp.ID != "" {
					raw.NetworkRemove(context.Background(), resp.ID)
				}
			})
			if err != nil {
				t.Fatalf("creating the foreign network: %v", err)
			}
		},
		RemoveImage: func(t *testing.T, ref string) {
			_, err := raw.ImageRemove(context.Background(), ref, image.RemoveOptions{PruneChildren: true})
			if err != nil && !client.IsErrNotFound(err) {
				t.Errorf("removing image %s: %v", ref, err)
			}
		},
	})
}

// TestKubiaV2 is the foundation's must-show: kubia v2 started through the
// runtime on a mini-deploy network answers with its pod name on its network
// address, and stops promptly on SIGTERM.
func TestKubiaV2(t *testing.T) {
	const ref = "luksa/kubia:v2"
	e := dockertest.Require(t)
	if ok, err := e.ImageExists(t.Context(), ref); err == nil && !ok && os.Getenv("CI") != "true" {
		t.Skipf("image %s missing: run `make images` (this test fails instead under CI=true)", ref)
	}
	dockertest.RequireImages(t, e, ref)
	key, session := dockertest.SessionLabel(t)
	dockertest.Cleanup(t, e, key, session)
	ctx := t.Context()

	nw, err := e.EnsureNetwork(ctx, "mdtest-"+session, map[string]string{key: session})
	if err != nil {
		t.Fatalf("EnsureNetwork: %v", err)
	}
	id, err := e.Create(ctx, rt.ContainerSpec{
		Name:     "mdtest-" + session + "-kubia-v2-abcde",
		Image:    ref,
		Hostname: "kubia-v2-abcde",
		Network:  nw.Name,
		Labels:   map[string]string{key: session, "app": "kubia"},
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := e.Start(ctx, id); err != nil {
		t.Fatalf("Start: %v", err)
	}
	c, err := e.Inspect(ctx, id)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	ip := c.IPs[nw.Name]
	if ip == "" {
		t.Fatalf("no IP on %s: %v", nw.Name, c.IPs)
	}

	url := "http://" + net.JoinHostPort(ip, "8080") + "/"
	body := getWithRetry(t, url)
	if want := "This is v2 running in pod kubia-v2-abcde\n"; body != want {
		t.Errorf("GET %s = %q, want %q", url, body, want)
	}

	begin := time.Now()
	if err := e.Stop(ctx, id, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// Ignoring SIGTERM would show as the full 10 s grace and exit code 137.
	if d := time.Since(begin); d >= 9*time.Second {
		t.Errorf("kubia took %v to stop on SIGTERM, want it to exit before the 10s grace", d)
	}
	if c, err := e.Inspect(ctx, id); err != nil || c.State != rt.StateExited || c.ExitCode == 137 {
		t.Errorf("after Stop: %+v, %v; want exited on its own, not killed", c, err)
	}
}

func TestEngineUnavailable(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+t.TempDir()+"/nothing.sock")
	e, err := docker.New(t.Context())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer e.Close()
	if err := e.Ping(t.Context()); !errors.Is(err, rt.ErrEngineUnavailable) {
		t.Errorf("Ping = %v, want ErrEngineUnavailable", err)
	}
	if _, err := e.List(t.Context(), nil); !errors.Is(err, rt.ErrEngineUnavailable) {
		t.Errorf("List = %v, want ErrEngineUnavailable", err)
	}

	// The stream keeps retrying without sending a resync it cannot honour,
	// and still closes when its context ends.
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	for ev := range e.Events(ctx) {
		t.Errorf("event from an unreachable engine: %+v", ev)
	}
}

func getWithRetry(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				return string(b)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: no answer within 15s (last error: %v)", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func rawClient(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A memory limit is the whole ceiling, as under Kubernetes: no swap on top
// (Docker's default would allow as much again).
func TestMemoryLimitAllowsNoSwap(t *testing.T) {
	const ref = "luksa/kubia:v1"
	e := dockertest.Require(t)
	if ok, err := e.ImageExists(t.Context(), ref); err == nil && !ok && os.Getenv("CI") != "true" {
		t.Skipf("image %s missing: run `make images` (this test fails instead under CI=true)", ref)
	}
	dockertest.RequireImages(t, e, ref)
	key, session := dockertest.SessionLabel(t)
	dockertest.Cleanup(t, e, key, session)
	id, err := e.Create(t.Context(), rt.ContainerSpec{
		Name:      "mdtest-" + session + "-limited",
		Image:     ref,
		Labels:    map[string]string{key: session},
		Resources: rt.Resources{MemoryLimit: 64 << 20},
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	c, err := cli.ContainerInspect(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if h := c.HostConfig; h.Memory != 64<<20 || h.MemorySwap != 64<<20 {
		t.Errorf("memory %d and memory+swap %d, want both %d", h.Memory, h.MemorySwap, 64<<20)
	}
}
