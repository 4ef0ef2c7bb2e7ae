package orchestrator_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/mini-deploy/mini-deploy/deploytest"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// BenchmarkConvergence measures, in one run on the real engine, how close the
// control plane comes to the engine's own speed (make bench runs it once):
//
//   - the floor: create and start a kubia container through the engine's API
//     and poll it until its first HTTP 200 (what any tool must wait for);
//   - self-healing: from removing a pod's container (docker rm -f) to a
//     ready replacement, against one floor;
//   - a v1 -> v2 rollout of 3 pods (maxSurge 1, maxUnavailable 0), against
//     three floors (each new pod must be ready before the next starts);
//   - scale 0 -> 20, against twenty floors started at once.
//
// Times are read by polling every 10 ms; each figure is the median of the
// runs asked for with -benchtime=Nx (the floor, of three times as many).
func BenchmarkConvergence(b *testing.B) {
	env := deploytest.Start(b, kubiaImages, deploytest.WithManifests(kubiaDeploy))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()

	var floor, heal, rollout, scale, parallel []time.Duration
	image := "v1"
	for i := 0; i < b.N; i++ {
		// The floor is noisy: it is taken around each of the others.
		floor = append(floor, engineFloor(b, ctx, cli, env, 1))
		heal = append(heal, selfHeal(b, env))
		floor = append(floor, engineFloor(b, ctx, cli, env, 1))
		image = map[string]string{"v1": "v2", "v2": "v1"}[image]
		rollout = append(rollout, rolloutOf3(b, env, image))
		floor = append(floor, engineFloor(b, ctx, cli, env, 1))
		parallel = append(parallel, engineFloor(b, ctx, cli, env, 20))
		scale = append(scale, scaleTo20(b, env))
	}
	b.StopTimer()
	med := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2]
	}
	f, h, r, s, p := med(floor), med(heal), med(rollout), med(scale), med(parallel)
	b.ReportMetric(f.Seconds(), "floor-s")
	b.ReportMetric(h.Seconds()/f.Seconds(), "heal/floor")
	b.ReportMetric(r.Seconds()/(3*f.Seconds()), "rollout/3floors")
	b.ReportMetric(s.Seconds()/p.Seconds(), "scale20/parallel20")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("convergence (median of %d): engine floor %s (create, start, first HTTP 200)\n", b.N, f.Round(time.Millisecond))
	fmt.Printf("  self-heal after docker rm -f: %s = %.2fx the floor (target <= 1.5x)\n", h.Round(time.Millisecond), h.Seconds()/f.Seconds())
	fmt.Printf("  rollout of 3 pods, surge 1: %s = %.2fx three floors (target <= 1.5x)\n", r.Round(time.Millisecond), r.Seconds()/(3*f.Seconds()))
	fmt.Printf("  scale 0 -> 20 ready: %s; 20 containers started at once through the engine: %s = %.2fx (target <= 1.1x)\n",
		s.Round(time.Millisecond), p.Round(time.Millisecond), s.Seconds()/p.Seconds())
}

// engineFloor starts n kubia containers at once on the Env's network and
// returns the time until every one has answered HTTP 200; it removes them.
func engineFloor(b *testing.B, ctx context.Context, cli *client.Client, env *deploytest.Env, n int) time.Duration {
	b.Helper()
	labels := map[string]string{rt.ManagedLabel: "true", deploytest.SessionLabel: env.Session}
	ids := make([]string, n)
	errs := make([]error, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := cli.ContainerCreate(ctx, &container.Config{Image: "luksa/kubia:v1", Labels: labels},
				&container.HostConfig{NetworkMode: container.NetworkMode(env.Network)},
				&network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{env.Network: {}}}, nil, "")
			if err != nil {
				errs[i] = err
				return
			}
			ids[i] = c.ID
			if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
				errs[i] = err
				return
			}
			in, err := cli.ContainerInspect(ctx, c.ID)
			if err != nil {
				errs[i] = err
				return
			}
			url := fmt.Sprintf("http://%s:8080/", in.NetworkSettings.Networks[env.Network].IPAddress)
			hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if resp, err := hc.Get(url); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return
					}
				}
			}
			errs[i] = fmt.Errorf("%s never answered", url)
		})
	}
	wg.Wait()
	took := time.Since(start)
	for _, id := range ids {
		if id != "" {
			_ = cli.ContainerRemove(context.Background(), id, container.RemoveOptions{Force: true})
		}
	}
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return took
}

// waitPods polls every 10 ms until cond holds for the Deployment's pods.
func waitPods(b *testing.B, env *deploytest.Env, what string, cond func([]*api.Pod) bool) {
	b.Helper()
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond(env.Pods("app=kubia")) {
			return
		}
	}
	b.Fatalf("%s: not within 3 minutes", what)
}

func readyCount(ps []*api.Pod, image string) int {
	n := 0
	for _, p := range ps {
		if p.DeletionTimestamp == nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready &&
			(image == "" || p.Spec.Containers[0].Image == image) {
			n++
		}
	}
	return n
}

func selfHeal(b *testing.B, env *deploytest.Env) time.Duration {
	b.Helper()
	waitPods(b, env, "3 ready pods", func(ps []*api.Pod) bool { return len(ps) == 3 && readyCount(ps, "") == 3 })
	victim := env.Pods("app=kubia")[0]
	id := victim.Status.ContainerStatuses[0].ContainerID[len("docker://"):]
	start := time.Now()
	if err := env.Engine.Remove(context.Background(), id); err != nil {
		b.Fatal(err)
	}
	waitPods(b, env, "a ready replacement", func(ps []*api.Pod) bool {
		for _, p := range ps {
			if p.Name == victim.Name {
				return false
			}
		}
		return readyCount(ps, "") == 3
	})
	return time.Since(start)
}

func rolloutOf3(b *testing.B, env *deploytest.Env, version string) time.Duration {
	b.Helper()
	image := "luksa/kubia:" + version
	start := time.Now()
	if err := env.SetImage("deployment/kubia", "nodejs", image); err != nil {
		b.Fatal(err)
	}
	waitPods(b, env, "3 ready "+version+" pods", func(ps []*api.Pod) bool { return len(ps) == 3 && readyCount(ps, image) == 3 })
	return time.Since(start)
}

func scaleTo20(b *testing.B, env *deploytest.Env) time.Duration {
	b.Helper()
	if err := env.Scale("deployment/kubia", 0); err != nil {
		b.Fatal(err)
	}
	waitPods(b, env, "no pod", func(ps []*api.Pod) bool { return len(ps) == 0 })
	start := time.Now()
	if err := env.Scale("deployment/kubia", 20); err != nil {
		b.Fatal(err)
	}
	waitPods(b, env, "20 ready pods", func(ps []*api.Pod) bool { return readyCount(ps, "") == 20 })
	took := time.Since(start)
	if err := env.Scale("deployment/kubia", 3); err != nil {
		b.Fatal(err)
	}
	waitPods(b, env, "3 pods", func(ps []*api.Pod) bool { return len(ps) == 3 && readyCount(ps, "") == 3 })
	return took
}
