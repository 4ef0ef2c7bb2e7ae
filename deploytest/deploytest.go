// Package deploytest runs mini-deploy manifests on the real Docker engine
// inside `go test`, in the spirit of testcontainers-go.
//
//	env := deploytest.Start(t, deploytest.WithManifests("../examples/kubia/kubia.yaml"))
//	url := env.ServiceURL("kubia")
//	load := env.StartLoad(url, deploytest.LoadOptions{Duration: time.Minute})
//	env.SetImage("deployment/kubia", "nodejs", "luksa/kubia:v2")
//	env.WaitReady(ctx, "deployment/kubia")
//	sum, _ := load.Stop() // sum.Failed, sum.ByVersion
//
// Start embeds the orchestrator in the test process (no daemon) with its own
// state directory, its own Docker network, its own instance label and a
// session label on everything it creates, so parallel tests never collide.
// Node ports come from the shared 30000-32767 range; the allocation and the
// proxy's first listen are serialized across every test process on the
// machine, so two Envs never get the same port. Cleanup is registered with
// t.Cleanup before anything can fail, and removes every container and network
// of the session even when the test fails or panics. A reaper removes what
// the sessions of dead test processes left behind (a binary killed by
// -timeout, or a panic in another test of the same binary, runs no cleanups).
//
// Waits are bounded: every Wait method takes a context, and one without a
// deadline gets DefaultTimeout. Load is bounded in time and only targets this
// machine.
//
// Without a Docker engine the test is skipped with a message, except under
// CI=true, where it fails: integration tests must never skip silently in CI.
//
// Where a change goes: waiting strategies are wait.go, client traffic is
// load.go (a client mix on top of package loadgen, the project's one load
// generator), and cleanup of what a test leaves is reap.go, through
// dockertest.RemoveMatching, the one cleanup of every test on the engine.
package deploytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	"github.com/mini-deploy/mini-deploy/runtime/docker"
	"github.com/mini-deploy/mini-deploy/runtime/docker/dockertest"
)

// Labels on everything a test session creates.
const (
	// SessionLabel names the session, as on every resource a test of the
	// project creates; the reaper finds leftovers by it.
	SessionLabel = dockertest.SessionKey
	// SessionPIDLabel is the test process that owns the session: a session
	// whose process is gone is a leftover.
	SessionPIDLabel = "mini-deploy.io/test-pid"
	// SessionHostLabel is the owner's host name: a process ID means nothing
	// on another host (or container) that shares the engine.
	SessionHostLabel = "mini-deploy.io/test-host"
)

// DefaultTimeout bounds Start's wait for the manifests to become ready, and
// every wait whose context has no deadline.
const DefaultTimeout = 90 * time.Second

// Option configures Start.
type Option func(*config)

type config struct {
	manifests []string
	images    []string
	timeout   time.Duration
	wait      bool
	logger    *slog.Logger
	publish   bool
}

// WithPublishPorts reaches pods through ports published on 127.0.0.1, as on
// engines whose container IPs the host cannot reach (Docker Desktop).
func WithPublishPorts() Option { return func(c *config) { c.publish = true } }

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

// WithoutWait returns as soon as the manifests are applied and their
// Services listen, without waiting for the workloads to be ready.
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

// Start runs a control plane for this test and applies the manifests. It
// fails the test (and cleans up) when anything goes wrong.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	cfg := config{timeout: DefaultTimeout, wait: true}
	for _, o := range opts {
		o(&cfg)
	}
	session := randomID()
	env := &Env{t: t, Session: session, Network: "mini-deploy-test-" + session, done: make(chan error, 1)}
	// Cleanup first: whatever fails below, the session's resources go.
	t.Cleanup(env.cleanup)

	env.Engine = RequireEngine(t)
	reap(env.Engine)
	for _, ref := range cfg.images {
		ok, err := env.Engine.ImageExists(context.Background(), ref)
		if err != nil || !ok {
			t.Fatalf("deploytest: image %s is missing on the engine: run `make images` (err: %v)", ref, err)
		}
	}
	home, err := os.MkdirTemp("", "mini-deploy-test-"+session+"-")
	if err != nil {
		t.Fatalf("deploytest: state directory: %v", err)
	}
	env.Home = home
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
	orch, err := orchestrator.New(env.Engine, st, orchestrator.Options{
		Network:      env.Network,
		Instance:     "test-" + session,
		ExtraLabels:  sessionLabels(session),
		ResyncPeriod: 5 * time.Second,
		Logger:       logger,
		Home:         env.Home,
		Version:      "deploytest",
		PublishPorts: cfg.publish,
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
	if len(cfg.manifests) == 0 {
		return env
	}
	objs := env.Apply(cfg.manifests...)
	if !cfg.wait {
		return env
	}
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
	return env
}

// RequireEngine returns a client of the local Docker engine, or skips the
// test (fails it under CI=true) when none answers.
func RequireEngine(t testing.TB) *docker.Engine {
	t.Helper()
	return dockertest.Require(t)
}

// cleanup stops the control plane and removes every container and network
// of the session, ignoring what is already gone. It runs however far Start
// got.
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
	if e.Engine != nil {
		RemoveMatching(e.Engine, map[string]string{SessionLabel: e.Session})
	}
	if e.Home != "" {
		_ = os.RemoveAll(e.Home)
	}
}

func sessionLabels(session string) map[string]string {
	host, _ := os.Hostname()
	return map[string]string{SessionLabel: session, SessionPIDLabel: fmt.Sprint(os.Getpid()), SessionHostLabel: host}
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
