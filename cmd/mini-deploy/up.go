package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/cmd/mini-deploy/internal/printer"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/client"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

// Waits of `up`.
const (
	// DefaultDaemonStartTimeout bounds the wait for a new daemon's socket:
	// it answers once the existing containers are adopted.
	DefaultDaemonStartTimeout = time.Minute
	readyPollInterval         = 500 * time.Millisecond
	logTailLines              = 20
)

type upOptions struct {
	*globalOptions
	files        []string
	timeout      time.Duration
	wait         bool
	namespaceSet bool
	daemon       daemonFlags
	// startDaemon starts the background daemon; tests replace it.
	startDaemon func(ctx context.Context, g *globalOptions, f daemonFlags) error
}

func newUpCommand(g *globalOptions) *cobra.Command {
	o := &upOptions{globalOptions: g, startDaemon: startDaemon}
	cmd := &cobra.Command{
		Use:   "up [-f FILE|DIR]...",
		Short: "Start the control plane if needed, apply manifests and wait until they are ready",
		Long: `Start the daemon in the background if none answers (its log goes to
<home>/daemon.log), apply the manifests if any are given, wait until every
workload they define is ready, and print the Service URLs.

Examples:
  mini-deploy up -f examples/kubia/
  mini-deploy up                       only make sure the daemon runs`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.namespaceSet = cmd.Flags().Changed("namespace")
			return runUp(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "manifest file or directory to apply (repeatable)")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long to wait for the workloads to be ready")
	f.BoolVar(&o.wait, "wait", true, "wait until the workloads are ready")
	o.daemon.register(f)
	return cmd
}

func runUp(ctx context.Context, o *upOptions) error {
	// Files are checked before anything starts: a typo should not cost a
	// daemon start.
	var objs []api.Object
	if len(o.files) > 0 {
		var err error
		if objs, err = readManifests(o.globalOptions, o.files, o.namespaceSet); err != nil {
			return err
		}
	}
	// Whatever answers on the socket of a directory others can write to
	// may not be this user's daemon: it gets no manifests.
	if _, err := os.Stat(o.home); err == nil {
		if err := checkHome(o.home); err != nil {
			return err
		}
	}
	c := o.client()
	defer c.Close()
	if err := ensureDaemon(ctx, o, c); err != nil {
		return err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		return printServiceURLs(ctx, o.out, c, info, "", nil)
	}
	results, err := applyObjects(ctx, c, o.globalOptions, objs, dryRunNone, false)
	if err != nil {
		return err
	}
	printApplyResults(o.out, results, dryRunNone)
	if o.wait {
		if err := waitReady(ctx, o, c, results); err != nil {
			return err
		}
	}
	var services []server.ApplyResult
	for _, r := range results {
		if r.Kind == api.KindService {
			services = append(services, r)
		}
	}
	// Asked again: the apply has just tried to listen on the node ports.
	if info, err = c.Info(ctx); err != nil {
		return err
	}
	if err := printServiceURLs(ctx, o.out, c, info, o.namespace, services); err != nil {
		return err
	}
	return notServed(info, services)
}

// notServed is the error of `up` when a Service it applied cannot listen
// on its node port: the URL it printed does not work, and a script must not
// carry on as if it did.
func notServed(info server.Info, services []server.ApplyResult) error {
	var errs []error
	for _, r := range services {
		for _, pp := range info.NotServing {
			if pp.Namespace == r.Namespace && pp.Name == r.Name {
				errs = append(errs, fmt.Errorf("service/%s: node port %d is not served: %s", r.Name, pp.NodePort, pp.Error))
			}
		}
	}
	return errors.Join(errs...)
}

// staleProcesses says which running processes are not of this binary's
// version, or "" when all are.
func staleProcesses(info server.Info) string {
	var stale []string
	if info.Version != version {
		stale = append(stale, fmt.Sprintf("the control plane runs %s", info.Version))
	}
	for _, dp := range info.DataPlanes {
		if dp.Version != version {
			stale = append(stale, fmt.Sprintf("the data plane (pid %d) runs %s", dp.PID, dp.Version))
		}
	}
	return strings.Join(stale, ", ")
}

// ensureDaemon starts a daemon unless one answers, and waits for it.
func ensureDaemon(ctx context.Context, o *upOptions, c *client.Client) error {
	err := c.Ping(ctx)
	if err == nil {
		if info, err := c.Info(ctx); err == nil {
			if o.daemon.address != info.Address {
				fmt.Fprintf(o.errOut, "warning: the running daemon listens on %s, not %s; run \"mini-deploy down\" first to change it\n", info.Address, o.daemon.address)
			}
			if stale := staleProcesses(info); stale != "" {
				fmt.Fprintf(o.errOut, "note: %s, and this binary is %s: \"mini-deploy upgrade\" hands over to it without a gap\n", stale, version)
			}
		}
		return nil
	}
	if !errors.Is(err, client.ErrDaemonNotRunning) {
		return err
	}
	// Concurrent ups: one starts the daemon, the others wait for it here
	// and then find it answering, so only the daemon that runs is announced.
	unlock, err := lockHome(ctx, o.home)
	if err != nil {
		return err
	}
	defer unlock()
	if c.Ping(ctx) == nil {
		return nil
	}
	return o.startDaemon(ctx, o.globalOptions, o.daemon)
}

// startLockName is the file concurrent `up`s lock to start one daemon.
const startLockName = "up.lock"

// lockHome takes an exclusive lock on the state directory's start lock,
// waiting while another `up` holds it.
func lockHome(ctx context.Context, home string) (func(), error) {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(home, startLockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the start lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startDaemon starts `mini-deploy daemon` in its own session, detached from
// this terminal, and waits until it answers on the socket.
func startDaemon(ctx context.Context, g *globalOptions, flags daemonFlags) error {
	home, err := prepareHome(g.home)
	if err != nil {
		return err
	}
	return startDaemonArgs(ctx, g, home, append([]string{"daemon", "--home", home}, flags.args()...))
}

// startDaemonArgs starts this binary with args as the daemon of home, and
// waits until it answers.
func startDaemonArgs(ctx context.Context, g *globalOptions, home string, args []string) error {
	logPath := filepath.Join(home, logName)
	logFile, err := openNoFollow(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND)
	if err != nil {
		return fmt.Errorf("open daemon log: %w", err)
	}
	defer logFile.Close()
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the mini-deploy binary: %w", err)
	}
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own session: the daemon outlives this command and ignores the
	// terminal's Ctrl-C.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fmt.Fprintf(g.errOut, "Starting the mini-deploy daemon (pid %d, log %s)...\n", cmd.Process.Pid, logPath)

	c := client.New(filepath.Join(home, socketName))
	defer c.Close()
	deadline := time.NewTimer(DefaultDaemonStartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted while the daemon started (it keeps starting; see %s)", logPath)
		case err := <-exited:
			return fmt.Errorf("the daemon exited before answering (%v); last lines of %s:\n%s", err, logPath, tail(logPath, logTailLines))
		case <-deadline.C:
			return fmt.Errorf("the daemon did not answer on %s within %s; last lines of %s:\n%s", c.Socket(), DefaultDaemonStartTimeout, logPath, tail(logPath, logTailLines))
		case <-tick.C:
			if c.Ping(ctx) == nil {
				return nil
			}
		}
	}
}

// tail returns the last n lines of a file, indented, for error messages.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "  (" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// workload is one applied object `up` waits for.
type workload struct {
	kind, namespace, name string
	status                string // "2/3 ready"
	ready                 bool
}

func (w *workload) String() string { return printer.Resource(w.kind) + "/" + w.name }

// waitReady polls every applied workload until all are ready: a
// ReplicationController or ReplicaSet with all its replicas ready, a
// Deployment whose rollout is done.
func waitReady(ctx context.Context, o *upOptions, c *client.Client, results []server.ApplyResult) error {
	var ws []*workload
	for _, r := range results {
		switch r.Kind {
		case api.KindReplicationController, api.KindReplicaSet, api.KindDeployment:
			ws = append(ws, &workload{kind: r.Kind, namespace: r.Namespace, name: r.Name})
		}
	}
	if len(ws) == 0 {
		return nil
	}
	live := isTerminal(o.out)
	deadline := time.Now().Add(o.timeout)
	lastLine := ""
	for {
		pending := 0
		for _, w := range ws {
			if w.ready {
				continue
			}
			if err := checkReady(ctx, c, w); err != nil {
				if live {
					fmt.Fprint(o.out, "\r\033[K")
				}
				return err
			}
			if !w.ready {
				pending++
			}
		}
		var parts []string
		for _, w := range ws {
			parts = append(parts, fmt.Sprintf("%s %s", w, w.status))
		}
		line := "Waiting: " + strings.Join(parts, ", ")
		if pending == 0 {
			if live {
				fmt.Fprint(o.out, "\r\033[K")
			}
			for _, w := range ws {
				fmt.Fprintf(o.out, "%s ready (%s)\n", w, strings.TrimSuffix(w.status, " ready"))
			}
			return nil
		}
		if line != lastLine {
			if live {
				fmt.Fprint(o.out, "\r\033[K"+line)
			} else {
				fmt.Fprintln(o.out, line)
			}
			lastLine = line
		}
		if time.Now().After(deadline) {
			if live {
				fmt.Fprintln(o.out)
			}
			var late []string
			for _, w := range ws {
				if !w.ready {
					late = append(late, fmt.Sprintf("%s (%s)", w, w.status))
				}
			}
			return fmt.Errorf("%w after %s: %s not ready; \"mini-deploy describe\" and \"mini-deploy get events\" tell why", errTimedOut, o.timeout, strings.Join(late, ", "))
		}
		select {
		case <-ctx.Done():
			if live {
				fmt.Fprintln(o.out)
			}
			return ctx.Err()
		case <-time.After(readyPollInterval):
		}
	}
}

func checkReady(ctx context.Context, c *client.Client, w *workload) error {
	if err := checkImages(ctx, c, w); err != nil {
		return err
	}
	if w.kind == api.KindDeployment {
		resp, err := c.Rollout(ctx, server.RolloutRequest{Action: server.RolloutStatus, Namespace: w.namespace, Name: w.name})
		if err != nil {
			return err
		}
		if resp.Failed {
			return errors.New(resp.Message)
		}
		obj, err := c.Get(ctx, w.kind, w.namespace, w.name)
		if err != nil {
			return err
		}
		d := obj.(*api.Deployment)
		w.status = fmt.Sprintf("%d/%d ready", d.Status.ReadyReplicas, api.Replicas(d.Spec.Replicas))
		w.ready = resp.Done
		return nil
	}
	obj, err := c.Get(ctx, w.kind, w.namespace, w.name)
	if err != nil {
		return err
	}
	var want *int32
	var st api.ReplicaSetStatus
	switch o := obj.(type) {
	case *api.ReplicationController:
		want, st = o.Spec.Replicas, o.Status
	case *api.ReplicaSet:
		want, st = o.Spec.Replicas, o.Status
	}
	n := api.Replicas(want)
	w.status = fmt.Sprintf("%d/%d ready", st.ReadyReplicas, n)
	gen := obj.Meta().Generation
	w.ready = st.ReadyReplicas == n && st.Replicas == n && (gen == 0 || st.ObservedGeneration >= gen)
	return nil
}

// checkImages fails at once when a pod of w waits for an image the engine
// does not have: images are never pulled, so waiting longer cannot help.
func checkImages(ctx context.Context, c *client.Client, w *workload) error {
	obj, err := c.Get(ctx, w.kind, w.namespace, w.name)
	if err != nil {
		return err
	}
	pods, err := podsOf(ctx, c, obj)
	if err != nil {
		return err
	}
	for _, p := range pods {
		for _, cs := range p.Status.ContainerStatuses {
			if wt := cs.State.Waiting; wt != nil && wt.Reason == reasonErrImageNeverPull {
				return fmt.Errorf("%s: pod %s is waiting with %s: %s", w, p.Name, wt.Reason, wt.Message)
			}
		}
	}
	return nil
}

// reasonErrImageNeverPull is the waiting reason of a pod whose image is not
// on the engine.
const reasonErrImageNeverPull = "ErrImageNeverPull"

// printServiceURLs prints `service/kubia: http://127.0.0.1:30123` for the
// given Services, or for every Service when none are given and ns is "".
func printServiceURLs(ctx context.Context, w io.Writer, c *client.Client, info server.Info, ns string, only []server.ApplyResult) error {
	var svcs []api.Object
	if only == nil && ns == "" {
		var err error
		if svcs, err = c.List(ctx, api.KindService, "", ""); err != nil {
			return err
		}
	}
	for _, r := range only {
		obj, err := c.Get(ctx, api.KindService, r.Namespace, r.Name)
		if err != nil {
			return err
		}
		svcs = append(svcs, obj)
	}
	var buf bytes.Buffer
	for _, obj := range svcs {
		svc := obj.(*api.Service)
		urls := api.ServiceURLs(svc, info.Address)
		if len(urls) > 0 {
			fmt.Fprintf(&buf, "%s: %s\n", printer.Name(svc), strings.Join(urls, " "))
		}
		for _, pp := range info.NotServing {
			if pp.Namespace == api.KeyOf(svc).Namespace && pp.Name == svc.Name {
				fmt.Fprintf(&buf, "  warning: node port %d is not served: %s (the daemon keeps trying)\n", pp.NodePort, pp.Error)
			}
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}
