package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/proxy/host"
)

type upgradeOptions struct {
	*globalOptions
	timeout time.Duration
}

func newUpgradeCommand(g *globalOptions) *cobra.Command {
	o := &upgradeOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Hand the running daemon and data plane over to this binary, without a gap",
		Long: `Run this binary in place of the running mini-deploy, without refusing a
connection or failing a request:

  1. A data plane of this binary takes the running one's listening sockets over
     (passed over its private socket, never closed); the old one finishes its
     requests in flight and exits.
  2. The control plane stops and starts again from this binary, with the same
     flags; the data plane serves meanwhile.

"mini-deploy version" then shows the version of both processes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runUpgrade(cmd.Context(), o) },
	}
	cmd.Flags().DurationVar(&o.timeout, "timeout", time.Minute, "how long each step may take")
	return cmd
}

func runUpgrade(ctx context.Context, o *upgradeOptions) error {
	c := o.client()
	defer c.Close()
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	home := info.Home
	dir := filepath.Join(home, dataPlaneDir)
	argv, err := processArgs(info.PID)
	if err != nil {
		return fmt.Errorf("read the running daemon's command line: %w", err)
	}
	old := host.Sockets(dir)

	// 1. The data plane.
	flags := defaultDaemonFlags()
	p, err := spawnDataPlane(home, flags, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.out, "Data plane: pid %d (this binary, %s) takes the listeners over...\n", p.Pid, version)
	mine := host.SocketPath(dir, p.Pid)
	if err := waitUntil(ctx, o.timeout, func() bool {
		if _, err := os.Stat(mine); err != nil {
			return false
		}
		for _, s := range old {
			if _, err := os.Stat(s); err == nil {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("the new data plane (pid %d) did not take over: %w; see %s", p.Pid, err, filepath.Join(home, dataPlaneLog))
	}
	fmt.Fprintf(o.out, "Data plane: %d old process(es) handed over; they finish their requests in flight and exit.\n", len(old))

	// 2. The control plane: stopped on purpose (it says goodbye to the data
	// plane, which then does not start it again), started from this binary.
	unlock, err := lockHome(ctx, home)
	if err != nil {
		return err
	}
	defer unlock()
	if err := syscall.Kill(info.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop the daemon (pid %d): %w", info.PID, err)
	}
	if err := waitExit(ctx, c, info.PID, o.timeout); err != nil {
		return err
	}
	if err := startDaemonArgs(ctx, o.globalOptions, home, argv[1:]); err != nil {
		return err
	}
	if info, err = c.Info(ctx); err != nil {
		return err
	}
	fmt.Fprintf(o.out, "Control plane: pid %d, version %s.\n", info.PID, info.Version)
	return nil
}

// processArgs reads a process's command line.
func processArgs(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range bytes.Split(bytes.TrimSuffix(b, []byte{0}), []byte{0}) {
		out = append(out, string(a))
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("pid %d: no arguments", pid)
	}
	return out, nil
}

// waitUntil polls cond until it holds, ctx ends or timeout passes.
func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
