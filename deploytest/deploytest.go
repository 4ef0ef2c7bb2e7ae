// Package deploytest runs mini-deploy manifests on the real Docker engine
// inside `go test`, in the spirit of testcontainers-go.
//
//	env := deploytest.Start(t, deploytest.WithManifests("../examples/kubia/deployment.yaml"))
//	env.WaitReady(ctx, "deployment/kubia")
//	url := env.ServiceURL("kubia")
//
// Start embeds the orchestrator in the test process (no daemon) with its own
// state directory, its own Docker network and a session label on everything
// it creates, so parallel tests never collide. Cleanup is registered with
// t.Cleanup before anything can fail, and removes every container and
// network of the session even when the test fails or panics; a reaper
// removes what crashed runs of earlier test binaries left behind.
//
// Without a Docker engine the test is skipped with a message, except under
// CI=true, where it fails: integration tests must never skip silently in CI.
package deploytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	rt "github.com/mini-deploy/mini-deploy/runtime"
	"github.com/mini-deploy/mini-deploy/runtime/docker"
)

// Labels on everything a test session creates.
const (
	// SessionLabel names the session; the reaper finds leftovers by it.
	SessionLabel = "mini-deploy.io/test-session"
	// SessionPIDLabel is the test process that owns the session: a session
	// whose process is gone is a leftover.
	SessionPIDLabel = "mini-deploy.io/test-pid"
)

// DefaultTimeout bounds Start's wait for the manifests to become ready.
const DefaultTimeout = 90 * time.Second

// Option configures Start.
type Option func(*config)

type config struct {
	manifests []string
	images    []string
	timeout   time.Duration
	wait      bool
	logger    *slog.Logger
}

// WithManifests applies these files or directories once the control plane runs.
func WithManifests(paths ...string) Option {
	return func(c *config) { c.manifests = append(c.manifests, paths...) }
}

// WithImages requires these images on the engine (a test fails early with a
// clear message instead of waiting for pods that cannot start).
func WithImages(refs ...string) Option {
	return func(c *config) { c.images = append(c.images, refs...) }
}

// WithTimeout bounds the wait for the applied manifests to become ready.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithoutWait returns as soon as the manifests are applied.
func WithoutWait() Option { return func(c *config) { c.wait = false } }

// WithLogger sends the control plane's logs to l (default: discarded unless
// MINI_DEPLOY_TEST_LOG=1, then to the test log).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// Env is one running control plane of a test.
type Env struct {
	t       testing.TB
	Session string
	Home    string
	Network string
	Engine  *docker.Engine
	Store   *store.Store
	Orch    *orchestrator.Orchestrator
	cancel  context.CancelFunc
	done    chan error
}

var reapOnce sync.Once

// Start runs a control plane for this test and applies the manifests.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	cfg := config{timeout: DefaultTimeout, wait: true}
	for _, o := range opts {
		o(&cfg)
	}
	engine := RequireEngine(t)
	reapOnce.Do(func() { reap(engine) })

	session := randomID()
	env := &Env{t: t, Session: session, Home: t.TempDir(), Network: "mini-deploy-test-" + session, Engine: engine, done: make(chan error, 1)}
	// Cleanup first: whatever fails below, the session's resources go.
	t.Cleanup(env.cleanup)

	for _, ref := range cfg.images {
		ok, err := engine.ImageExists(context.Background(), ref)
		if err != nil || !ok {
			t.Fatalf("deploytest: image %s is missing on the engine: run `make images` (err: %v)", ref, err)
		}
	}
	st, err := store.Open(env.Home, store.Options{})
	if err != nil {
		t.Fatalf("deploytest: open store: %v", err)
	}
	env.Store = st
	logger := cfg.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
		if os.Getenv("MINI_DEPLOY_TEST_LOG") == "1" {
			logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}
	orch, err := orchestrator.New(engine, st, orchestrator.Options{
		Network:      env.Network,
		Instance:     "test-" + session,
		ExtraLabels:  map[string]string{SessionLabel: session, SessionPIDLabel: fmt.Sprint(os.Getpid())},
		ResyncPeriod: 5 * time.Second,
		Logger:       logger,
		Home:         env.Home,
		Version:      "deploytest",
	})
	if err != nil {
		t.Fatalf("deploytest: %v", err)
	}
	env.Orch = orch
	ctx, cancel := context.WithCancel(context.Background())
	env.cancel = cancel
	go func() { env.done <- orch.Run(ctx) }()
	select {
	case <-orch.Ready():
	case err := <-env.done:
		env.done <- err
		t.Fatalf("deploytest: control plane failed to start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatalf("deploytest: control plane not ready after 30s")
	}
	if len(cfg.manifests) > 0 {
		objs := env.Apply(cfg.manifests...)
		if cfg.wait {
			wctx, wcancel := context.WithTimeout(context.Background(), cfg.timeout)
			defer wcancel()
			for _, obj := range objs {
				kind := obj.GetTypeMeta().Kind
				if kind == api.KindService {
					continue
				}
				if err := env.WaitReady(wctx, strings.ToLower(kind)+"/"+obj.Meta().Name); err != nil {
					t.Fatalf("deploytest: %v", err)
				}
			}
		}
	}
	return env
}

// RequireEngine returns a client of the local Docker engine, or skips the
// test (fails it under CI=true) when none answers.
func RequireEngine(t testing.TB) *docker.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := docker.New(ctx)
	if err == nil {
		err = e.Ping(ctx)
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Docker engine not reachable and CI=true: integration tests must not skip: %v", err)
		}
		t.Skipf("no Docker engine answers (%v): skipping integration test", err)
	}
	return e
}

// cleanup stops the control plane and removes every container and network
// of the session, ignoring what is already gone.
func (e *Env) cleanup() {
	if e.cancel != nil {
		e.cancel()
		select {
		case <-e.done:
		case <-time.After(30 * time.Second):
		}
	}
	if e.Store != nil {
		_ = e.Store.Close()
	}
	removeSession(e.Engine, map[string]string{SessionLabel: e.Session})
}

func removeSession(engine *docker.Engine, match map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ctrs, _ := engine.List(ctx, match)
	var wg sync.WaitGroup
	for _, c := range ctrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := engine.Remove(ctx, c.ID); err != nil && !errors.Is(err, rt.ErrNotFound) {
				fmt.Fprintf(os.Stderr, "deploytest: remove container %s: %v\n", c.Name, err)
			}
		}()
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
// binary killed by a timeout cannot run its cleanups.
func reap(engine *docker.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctrs, err := engine.List(ctx, nil)
	if err != nil {
		return
	}
	dead := map[string]bool{}
	for _, c := range ctrs {
		s, pid := c.Labels[SessionLabel], c.Labels[SessionPIDLabel]
		if s == "" || pid == "" || dead[s] {
			continue
		}
		if !processAlive(pid) {
			dead[s] = true
		}
	}
	nets, _ := engine.ListNetworks(ctx, nil)
	for _, n := range nets {
		s, pid := n.Labels[SessionLabel], n.Labels[SessionPIDLabel]
		if s != "" && pid != "" && !processAlive(pid) {
			dead[s] = true
		}
	}
	for s := range dead {
		removeSession(engine, map[string]string{SessionLabel: s})
	}
}

func processAlive(pid string) bool {
	if pid == fmt.Sprint(os.Getpid()) {
		return true
	}
	_, err := os.Stat("/proc/" + pid)
	return err == nil
}

func randomID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Apply applies manifest files or directories and returns the objects.
func (e *Env) Apply(paths ...string) []api.Object {
	e.t.Helper()
	objs, err := api.ReadManifests(paths)
	if err != nil {
		e.t.Fatalf("deploytest: %v", err)
	}
	if _, err := e.Orch.Apply(context.Background(), objs, server.ApplyOptions{}); err != nil {
		e.t.Fatalf("deploytest: apply %v: %v", paths, err)
	}
	return objs
}

// ApplyObjects applies objects built in the test.
func (e *Env) ApplyObjects(objs ...api.Object) error {
	_, err := e.Orch.Apply(context.Background(), objs, server.ApplyOptions{})
	return err
}
