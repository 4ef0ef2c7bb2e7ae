package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/orchestrator/client"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

type downOptions struct {
	*globalOptions
	timeout time.Duration
	// startDaemon starts a daemon to clean up after a dead one; tests
	// replace it.
	startDaemon func(ctx context.Context, g *globalOptions, f daemonFlags) error
}

func newDownCommand(g *globalOptions) *cobra.Command {
	o := &downOptions{globalOptions: g, startDaemon: startDaemon}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Delete every object and container, then stop the daemon",
		Long: `Delete every object and every container mini-deploy made, remove its network,
and stop the daemon. If no daemon runs but the state directory holds objects, one
is started to clean up.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDown(cmd.Context(), o)
		},
	}
	cmd.Flags().DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long to wait for the daemon to exit")
	return cmd
}

func runDown(ctx context.Context, o *downOptions) error {
	// down removes files of the state directory: only of one that is ours.
	if _, err := os.Stat(o.home); err == nil {
		if err := checkHome(o.home); err != nil {
			return err
		}
	}
	c := o.client()
	defer c.Close()
	info, err := c.Info(ctx)
	if errors.Is(err, client.ErrDaemonNotRunning) {
		if _, serr := os.Stat(filepath.Join(o.home, store.DBFile)); serr != nil {
			fmt.Fprintf(o.out, "No mini-deploy daemon runs at %s and no state is left: nothing to do.\n", c.Socket())
			return nil
		}
		// Containers may outlive a daemon that died; only a daemon knows
		// which are ours, so start one to remove them.
		flags := defaultDaemonFlags()
		if err := o.startDaemon(ctx, o.globalOptions, flags); err != nil {
			return err
		}
		info, err = c.Info(ctx)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(o.out, "Deleting every object and container...")
	if err := c.Down(ctx); err != nil {
		return err
	}
	if err := waitExit(ctx, c, info.PID, o.timeout); err != nil {
		return err
	}
	// The store holds nothing any more; without it the next `down` knows
	// there is nothing to clean up and does not start a daemon for it.
	for _, name := range []string{store.DBFile, store.OwnerFile} {
		if err := os.Remove(filepath.Join(o.home, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove the emptied store: %w", err)
		}
	}
	fmt.Fprintf(o.out, "mini-deploy daemon (pid %d) stopped; everything it made is removed.\n", info.PID)
	return nil
}

// waitExit waits until the daemon's process is gone and its socket no
// longer answers.
func waitExit(ctx context.Context, c *client.Client, pid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		gone := c.Ping(ctx) != nil
		if pid > 0 && gone {
			gone = syscall.Kill(pid, 0) == syscall.ESRCH
		}
		if gone {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: the daemon (pid %d) is still running after %s", errTimedOut, pid, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
