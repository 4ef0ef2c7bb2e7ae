package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/orchestrator/client"
	"github.com/mini-deploy/mini-deploy/proxy/host"
)

// The data plane runs in processes of its own (package proxy/host), so
// that Services keep answering while the control plane crashes, restarts or
// is upgraded. The daemon starts one when none answers; each listens on
// <home>/dataplane/<pid>.sock and logs to <home>/dataplane.log.
const (
	dataPlaneDir = "dataplane"
	dataPlaneLog = "dataplane.log"
)

type dataPlaneOptions struct {
	*globalOptions
	takeover  bool
	logFormat string
	logLevel  string
}

func newDataPlaneCommand(g *globalOptions) *cobra.Command {
	o := &dataPlaneOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:    "dataplane",
		Short:  "Run the Service proxies (the daemon starts this process)",
		Hidden: true,
		Long: `Run the data plane in the foreground: the Service proxies, kept to the state the
control plane pushes on <home>/dataplane/<pid>.sock. It keeps serving while the
control plane is down, and starts a crashed control plane again. With
--takeover it first takes the listening sockets of the running data planes over
(an upgrade), which then finish their requests and exit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runDataPlane(cmd.Context(), o) },
	}
	cmd.Flags().BoolVar(&o.takeover, "takeover", false, "take the listening sockets of the running data planes over")
	cmd.Flags().StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

func runDataPlane(ctx context.Context, o *dataPlaneOptions) error {
	// Go code on one thread at a time, as HAProxy and nginx run with one
	// thread or worker: on a small machine shared with the pods, a second
	// processor costs the proxy more CPU a request (threads that spin
	// looking for work, handoffs around each write) than it gains; make
	// bench measures both. GOMAXPROCS in the environment still decides.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	f := daemonFlags{logFormat: o.logFormat, logLevel: o.logLevel}
	log, err := f.logger(o.errOut)
	if err != nil {
		return err
	}
	home, err := prepareHome(o.home)
	if err != nil {
		return err
	}
	dir := filepath.Join(home, dataPlaneDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	log = log.With("component", "dataplane", "pid", os.Getpid())

	// An upgrade: the running data planes' sockets, and what they serve.
	inherited := map[string]net.Listener{}
	var state host.State
	var commits []func() error
	if o.takeover {
		for _, sock := range host.Sockets(dir) {
			tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			lns, st, commit, err := host.Takeover(tctx, sock)
			cancel()
			if err != nil {
				log.Warn("no takeover", "socket", sock, "error", err)
				continue
			}
			for a, ln := range lns {
				inherited[a] = ln
			}
			state.Listeners = append(state.Listeners, st.Listeners...)
			commits = append(commits, commit)
		}
	}
	h := host.New(host.Options{Version: version, Log: log, Inherited: inherited})
	if len(state.Listeners) > 0 {
		if _, err := h.Apply(ctx, state); err != nil {
			return err
		}
	}
	for _, commit := range commits {
		if err := commit(); err != nil {
			log.Warn("takeover not confirmed", "error", err)
		}
	}
	if len(commits) > 0 {
		log.Info("took the listeners over", "from", len(commits), "listeners", len(state.Listeners))
	}

	sock := host.SocketPath(dir, os.Getpid())
	os.Remove(sock)
	ln, err := listenInPlace(sock)
	if err != nil {
		return err
	}
	defer os.Remove(sock)
	sup := &supervisor{home: home, log: log, running: make(chan struct{}, 1), stopped: make(chan struct{})}
	srv := host.NewServer(h, log, sup.restart)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	serveCtx, cancelServe := context.WithCancel(context.Background())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(serveCtx, ln) }()
	log.Info("data plane listening", "socket", sock, "version", version)

	// A data plane whose state directory is gone (a test's temporary home
	// removed) has nobody left to serve.
	homeGone := make(chan struct{})
	go func() {
		for {
			select {
			case <-serveCtx.Done():
				return
			case <-time.After(2 * time.Second):
			}
			if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
				close(homeGone)
				return
			}
		}
	}()

	why := "signal"
	select {
	case <-ctx.Done():
	case <-srv.Done():
		why = srv.Reason()
	case <-homeGone:
		why = "state directory removed"
	case err := <-serveErr:
		why = fmt.Sprintf("socket: %v", err)
	}
	sup.stop()
	log.Info("data plane stopping; finishing the requests in flight", "why", why)
	os.Remove(sock)
	if why == "handoff" {
		h.CloseKeepAlives()
		time.Sleep(host.AcceptGrace)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = h.Shutdown(sctx)
	cancelServe()
	log.Info("data plane stopped")
	return err
}

// listenInPlace listens on a private socket at path that is never seen
// refusing connections. net.Listen binds the path before it listens; a
// control plane scanning for data planes in between would be refused and
// take the socket for a dead one's, and remove it. So the socket is bound
// under a name the scan ignores and renamed into place once it listens.
func listenInPlace(path string) (net.Listener, error) {
	tmp := path + ".new"
	os.Remove(tmp)
	ln, err := listenPrivate(tmp)
	if err != nil {
		return nil, err
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false) // the caller removes path
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return ln, nil
}

// supervisor starts a crashed control plane again, with back-off, unless
// another one answers meanwhile (an `up`).
type supervisor struct {
	home string
	log  *slog.Logger

	running chan struct{} // one restart loop at a time
	stopped chan struct{}
}

func (s *supervisor) stop() { close(s.stopped) }

// Back-off between attempts to start the control plane again.
const (
	restartFirstDelay = 200 * time.Millisecond
	restartMaxDelay   = 30 * time.Second
	restartAttempts   = 12
)

// restart runs in the background until a control plane answers.
func (s *supervisor) restart(argv []string) {
	if len(argv) == 0 {
		s.log.Warn("the control plane ended without a goodbye; it gave no command line to start it again with, as its service manager (systemd) does that")
		return
	}
	select {
	case s.running <- struct{}{}:
	default:
		return // already restarting
	}
	go func() {
		defer func() { <-s.running }()
		delay := restartFirstDelay
		for attempt := 1; attempt <= restartAttempts; attempt++ {
			select {
			case <-s.stopped:
				return
			case <-time.After(delay):
			}
			start := time.Now()
			ok, err := s.startOnce(argv)
			if ok {
				if err == nil {
					s.log.Info("control plane started again", "after", time.Since(start).Round(time.Millisecond), "attempt", attempt)
				}
				return
			}
			s.log.Warn("control plane did not start", "attempt", attempt, "error", err, "next in", delay*2)
			delay = min(delay*2, restartMaxDelay)
		}
		s.log.Error("gave up starting the control plane; run \"mini-deploy up\"")
	}()
}

// startOnce starts the control plane under the home's start lock, the one
// `up` takes, unless one answers already. It reports true once one answers
// (err nil when it is the one it started).
func (s *supervisor) startOnce(argv []string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultDaemonStartTimeout)
	defer cancel()
	unlock, err := lockHome(ctx, s.home)
	if err != nil {
		return false, err
	}
	defer unlock()
	c := client.New(filepath.Join(s.home, socketName))
	defer c.Close()
	if c.Ping(ctx) == nil {
		return true, errors.New("another control plane answers")
	}
	logFile, err := openNoFollow(filepath.Join(s.home, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND)
	if err != nil {
		return false, fmt.Errorf("open the daemon log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return false, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return false, fmt.Errorf("exited: %v", err)
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return false, errors.New("did not answer in time")
		case <-tick.C:
			if c.Ping(ctx) == nil {
				return true, nil
			}
		}
	}
}

// spawnDataPlane starts a data-plane process for home, in a session of its
// own so that it outlives the control plane.
func spawnDataPlane(home string, flags daemonFlags, takeover bool) (*os.Process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the mini-deploy binary: %w", err)
	}
	logFile, err := openNoFollow(filepath.Join(home, dataPlaneLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND)
	if err != nil {
		return nil, fmt.Errorf("open the data plane log: %w", err)
	}
	defer logFile.Close()
	args := []string{"dataplane", "--home", home, "--log-format=" + flags.logFormat, "--log-level=" + flags.logLevel}
	if takeover {
		args = append(args, "--takeover")
	}
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the data plane: %w", err)
	}
	go func() { _ = cmd.Wait() }() // reaped if it exits while we run
	return cmd.Process, nil
}
