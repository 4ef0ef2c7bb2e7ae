package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mini-deploy/mini-deploy/orchestrator"
	"github.com/mini-deploy/mini-deploy/orchestrator/dashboard"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	"github.com/mini-deploy/mini-deploy/proxy/host"
	rt "github.com/mini-deploy/mini-deploy/runtime"
	"github.com/mini-deploy/mini-deploy/runtime/docker"
)

// DefaultMetricsAddress lets the kernel pick a free loopback port, so a
// daemon never fails to start over a busy metrics port; `mini-deploy
// version` prints where the metrics ended up. Pass --metrics-address for a
// fixed one to scrape.
const DefaultMetricsAddress = "127.0.0.1:0"

// daemonFlags configure the control plane; `up` passes them on to the
// daemon it starts.
type daemonFlags struct {
	address          string
	metricsAddress   string
	dashboardAddress string
	publishPorts     bool
	logFormat        string
	logLevel         string
	// supervised: a service manager (systemd, see install) starts this
	// daemon again when it fails, so its data planes do not.
	supervised bool
}

func (f *daemonFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.address, "address", orchestrator.DefaultAddress, "address the Service proxies listen on")
	fs.StringVar(&f.metricsAddress, "metrics-address", DefaultMetricsAddress, `where Prometheus metrics are served ("" turns them off)`)
	fs.StringVar(&f.dashboardAddress, "dashboard-address", dashboard.DefaultAddress, `where the web dashboard is served ("" turns it off); "mini-deploy dashboard" prints its URL`)
	fs.BoolVar(&f.publishPorts, "publish-ports", false, "reach pods through ports published on 127.0.0.1, for engines whose container IPs the host cannot reach (Docker Desktop)")
	fs.StringVar(&f.logFormat, "log-format", "text", "daemon log format: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "daemon log level: debug, info, warn or error")
}

// defaultDaemonFlags are the flags of a daemon started with none given.
func defaultDaemonFlags() daemonFlags {
	var f daemonFlags
	f.register(pflag.NewFlagSet("daemon", pflag.ContinueOnError))
	return f
}

// args renders the flags for the command line of a daemon `up` starts.
func (f *daemonFlags) args() []string {
	a := []string{
		"--address=" + f.address,
		"--metrics-address=" + f.metricsAddress,
		"--dashboard-address=" + f.dashboardAddress,
		"--log-format=" + f.logFormat,
		"--log-level=" + f.logLevel,
	}
	if f.publishPorts {
		a = append(a, "--publish-ports")
	}
	return a
}

func (f *daemonFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", f.logFormat)
}

type daemonOptions struct {
	*globalOptions
	flags daemonFlags
}

func newDaemonCommand(g *globalOptions) *cobra.Command {
	o := &daemonOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the control plane in the foreground",
		Long: `Run the control plane in the foreground: the object store, the controllers, the
Service proxies and the API on <home>/mini-deploy.sock. "mini-deploy up" starts it
in the background. SIGINT or SIGTERM stops it; the containers keep running and the
next daemon adopts them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDaemon(cmd.Context(), o)
		},
	}
	o.flags.register(cmd.Flags())
	cmd.Flags().BoolVar(&o.flags.supervised, "supervised", false, "a service manager such as systemd restarts this daemon when it fails, not its data plane (\"mini-deploy install\" sets it)")
	return cmd
}

func runDaemon(ctx context.Context, o *daemonOptions) error {
	log, err := o.flags.logger(o.errOut)
	if err != nil {
		return err
	}
	home, err := prepareHome(o.home)
	if err != nil {
		return err
	}
	_, statErr := os.Stat(filepath.Join(home, store.DBFile))
	hadState := statErr == nil
	st, err := store.Open(home, store.Options{})
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("%w: only one daemon may own a state directory; stop it with \"mini-deploy down\" or pass another --home", err)
	}
	if errors.Is(err, store.ErrCorrupt) {
		return fmt.Errorf("%w; \"mini-deploy down\" removes this directory's containers and networks and moves the file aside", err)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	// Written once the store's lock is ours, so the pid is this home's
	// daemon's.
	pidFile := filepath.Join(home, pidName)
	if err := writeFileNoFollow(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n")); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	defer os.Remove(pidFile)

	engine, err := docker.New(ctx)
	if err != nil {
		return fmt.Errorf("docker engine: %w", err)
	}
	defer engine.Close()

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	instance, network, err := resolveInstance(ctx, home, hadState, st, engine)
	if err != nil {
		return err
	}
	var runtime rt.Runtime = engine
	if instance == orchestrator.DefaultInstance {
		runtime = newOwnContainers(engine, st)
	}

	// The Service proxies run in data-plane processes of their own, which
	// keep serving while this process is down and start it again if it
	// crashes (dataplane.go).
	fleet, err := connectDataPlanes(ctx, home, o.flags, log)
	if err != nil {
		return err
	}
	var downed atomic.Bool
	defer func() {
		if !downed.Load() {
			fleet.Close(true) // on purpose: the data planes serve on
			return
		}
		fleet.Close(true)
		sctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		if _, err := host.Shutdown(sctx, filepath.Join(home, dataPlaneDir)); err != nil {
			log.Warn("data plane shutdown", "error", err)
		}
	}()
	orch, err := orchestrator.New(runtime, st, orchestrator.Options{
		Instance:     instance,
		Network:      network,
		Address:      o.flags.address,
		MetricsAddr:  o.flags.metricsAddress,
		PublishPorts: o.flags.publishPorts,
		Home:         home,
		Version:      version,
		Logger:       log,
		// After `down` removed everything, the daemon's work is done, and
		// the data planes' too.
		OnDown:    func() { downed.Store(true); stop() },
		DataPlane: fleet,
	})
	if err != nil {
		return err
	}
	var backend server.Backend = orch

	runErr := make(chan error, 1)
	go func() { runErr <- orch.Run(ctx) }()
	// The API opens only once the existing containers are adopted, so the
	// first `get pods` after a restart already sees them.
	select {
	case <-orch.Ready():
	case err := <-runErr:
		if err == nil {
			err = errors.New("control plane stopped before it was ready")
		}
		return err
	}

	sock := filepath.Join(home, socketName)
	ln, err := listenSocket(sock)
	if err != nil {
		stop()
		<-runErr
		return err
	}
	defer os.Remove(sock)
	log.Info("API listening", "socket", sock, "pid", os.Getpid())

	dash, err := startDashboard(ctx, o.flags.dashboardAddress, home, instance, orch, log)
	if err != nil {
		stop()
		<-runErr
		return err
	}
	backend = withDataPlanes{Backend: backend, fleet: fleet}
	if dash != nil {
		backend = withDashboard{Backend: backend, url: dash.url}
		defer func() { <-dash.done }()
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- server.Serve(ctx, ln, server.New(backend, log)) }()

	var firstErr error
	select {
	case err := <-runErr:
		firstErr = err
		stop()
		if err := <-serveErr; firstErr == nil {
			firstErr = err
		}
	case err := <-serveErr:
		firstErr = err
		stop()
		if err := <-runErr; firstErr == nil {
			firstErr = err
		}
	}
	log.Info("daemon stopped; containers keep running")
	return firstErr
}

// tokenName is the file in the state directory that keeps the dashboard's
// token, so that a page left open keeps working across daemon restarts.
const tokenName = "dashboard-token"

// runningDashboard is the dashboard a daemon serves.
type runningDashboard struct {
	url  string
	done chan struct{} // closed once it stopped serving
}

// startDashboard serves the web dashboard on addr until ctx ends; nil when
// addr is "".
func startDashboard(ctx context.Context, addr, home, instance string, orch *orchestrator.Orchestrator, log *slog.Logger) (*runningDashboard, error) {
	if addr == "" {
		return nil, nil
	}
	token, err := dashboardToken(filepath.Join(home, tokenName))
	if err != nil {
		return nil, err
	}
	d, err := dashboard.New(dashboard.Options{
		Backend: orch, Token: token, Name: instance, Logger: log,
		Requests: func() []dashboard.RequestCount {
			counts := orch.RequestCounts()
			out := make([]dashboard.RequestCount, len(counts))
			for i, c := range counts {
				out[i] = dashboard.RequestCount(c)
			}
			return out
		},
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dashboard address %s: %w (pass another --dashboard-address, or \"\" to turn it off)", addr, err)
	}
	r := &runningDashboard{url: dashboard.URL(ln.Addr().String(), token), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := dashboard.Serve(ctx, ln, d); err != nil {
			log.Error("dashboard stopped", "error", err)
		}
	}()
	log.Info("dashboard listening", "address", ln.Addr().String())
	return r, nil
}

// dashboardToken reads the token kept in path, or makes one and keeps it
// there, readable by its owner only.
func dashboardToken(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		if tok := strings.TrimSpace(string(b)); len(tok) >= 16 {
			return tok, nil
		}
	}
	tok, err := dashboard.NewToken()
	if err != nil {
		return "", err
	}
	if err := writeFileNoFollow(path, []byte(tok+"\n")); err != nil {
		return "", fmt.Errorf("write dashboard token: %w", err)
	}
	return tok, nil
}

// withDashboard tells the dashboard's URL in Info.
type withDashboard struct {
	server.Backend
	url string
}

func (b withDashboard) Info(ctx context.Context) (server.Info, error) {
	info, err := b.Backend.Info(ctx)
	info.Dashboard = b.url
	return info, err
}

// connectDataPlanes finds the data planes of home, starting one if none
// answers, and keeps the set current in the background until ctx ends.
func connectDataPlanes(ctx context.Context, home string, flags daemonFlags, log *slog.Logger) (*host.Fleet, error) {
	dir := filepath.Join(home, dataPlaneDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the mini-deploy binary: %w", err)
	}
	// What a data plane runs to start this control plane again; none when
	// a service manager does that.
	argv := append([]string{self}, os.Args[1:]...)
	if flags.supervised {
		argv = nil
	}
	fleet := host.NewFleet(host.FleetOptions{
		Dir: dir, Argv: argv, Log: log.With("component", "fleet"),
		Spawn: func() error {
			p, err := spawnDataPlane(home, flags, false)
			if err == nil {
				log.Info("data plane started", "pid", p.Pid, "log", filepath.Join(home, dataPlaneLog))
			}
			return err
		},
	})
	if err := fleet.Connect(ctx); err != nil {
		return nil, err
	}
	go fleet.Run(ctx)
	return fleet, nil
}

// withDataPlanes tells the data planes' processes and versions in Info.
type withDataPlanes struct {
	server.Backend
	fleet *host.Fleet
}

func (b withDataPlanes) Info(ctx context.Context) (server.Info, error) {
	info, err := b.Backend.Info(ctx)
	for _, st := range b.fleet.Members() {
		info.DataPlanes = append(info.DataPlanes, server.DataPlaneInfo{PID: st.PID, Version: st.Version})
	}
	slices.SortFunc(info.DataPlanes, func(a, b server.DataPlaneInfo) int { return a.PID - b.PID })
	return info, err
}
