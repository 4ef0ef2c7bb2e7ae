package deploytest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	rt "github.com/mini-deploy/mini-deploy/runtime"
	"github.com/mini-deploy/mini-deploy/runtime/docker"
)

// RemoveMatching removes the containers, then the networks, carrying every
// label of match, for cleanups outside an Env (a daemon's instance label,
// say). What is already gone is not an error.
func RemoveMatching(engine *docker.Engine, match map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ctrs, _ := engine.List(ctx, match)
	var wg sync.WaitGroup
	for _, c := range ctrs {
		wg.Go(func() {
			if err := engine.Remove(ctx, c.ID); err != nil && !errors.Is(err, rt.ErrNotFound) {
				fmt.Fprintf(os.Stderr, "deploytest: remove container %s: %v\n", c.Name, err)
			}
		})
	}
	wg.Wait()
	nets, _ := engine.ListNetworks(ctx, match)
	for _, n := range nets {
		if err := engine.RemoveNetwork(ctx, n.Name); err != nil && !errors.Is(err, rt.ErrNotFound) {
			fmt.Fprintf(os.Stderr, "deploytest: remove network %s: %v\n", n.Name, err)
		}
	}
}

// reap removes the sessions of test processes that no longer exist: a test
// binary killed by -timeout, or one in which another test panicked, cannot
// run its cleanups. Only sessions of this host are judged: a process ID
// means nothing on another host sharing the engine.
func reap(engine *docker.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	host, _ := os.Hostname()
	dead := map[string]bool{}
	judge := func(labels map[string]string) {
		s, pid := labels[SessionLabel], labels[SessionPIDLabel]
		if s == "" || pid == "" || dead[s] {
			return
		}
		if h, ok := labels[SessionHostLabel]; ok && h != host {
			return
		}
		if !processAlive(pid) {
			dead[s] = true
		}
	}
	ctrs, _ := engine.List(ctx, nil)
	for _, c := range ctrs {
		judge(c.Labels)
	}
	nets, _ := engine.ListNetworks(ctx, nil)
	for _, n := range nets {
		judge(n.Labels)
	}
	for s := range dead {
		RemoveMatching(engine, map[string]string{SessionLabel: s})
	}
}
