package deploytest

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/mini-deploy/mini-deploy/runtime/docker"
	"github.com/mini-deploy/mini-deploy/runtime/docker/dockertest"
)

// RemoveMatching removes the containers, then the networks, carrying every
// label of match, for cleanups outside an Env (a daemon's instance label,
// say). What is already gone is not an error.
func RemoveMatching(engine *docker.Engine, match map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := dockertest.RemoveMatching(ctx, engine, match); err != nil {
		fmt.Fprintf(os.Stderr, "deploytest: %v\n", err)
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
