package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/orchestrator"
	"github.com/mini-deploy/mini-deploy/orchestrator/client"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	rt "github.com/mini-deploy/mini-deploy/runtime"
	"github.com/mini-deploy/mini-deploy/runtime/docker"
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
		// A store no daemon can open still names, through the instance, the
		// containers and networks that are this directory's.
		if err := checkStore(o.home); errors.Is(err, store.ErrCorrupt) {
			return downCorrupt(ctx, o, err)
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

// checkStore opens the store of home and closes it again, to learn whether
// a daemon could.
func checkStore(home string) error {
	st, err := store.Open(home, store.Options{})
	if err != nil {
		return err
	}
	return st.Close()
}

// downCorrupt is down for a state directory whose store is corrupt: no
// daemon can start from it, so down itself removes the containers and
// networks of the directory's instance, found by their label, and moves the
// file aside for the user to inspect or delete.
func downCorrupt(ctx context.Context, o *downOptions, cause error) error {
	home, err := filepath.Abs(o.home)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.out, "%v: no daemon can start from it.\n", cause)
	instance, err := readInstance(home)
	if err != nil {
		return err
	}
	if instance == "" {
		// No instance kept: an older version ran here, under the name it
		// derived.
		instance = legacyInstanceOf(home)
	}
	if instance == orchestrator.DefaultInstance {
		// Older versions gave every user's ~/.mini-deploy the instance
		// "default"; without the store, its containers cannot be told from
		// another user's.
		fmt.Fprintf(o.out, "Its instance is the \"default\" that older versions shared between users: its containers cannot be told from another user's without the store, so none is removed. Look with \"docker ps --filter label=%s=default\" and remove yours with \"docker rm -f\".\n", orchestrator.LabelInstance)
	} else if err := removeInstance(ctx, o, instance); err != nil {
		return err
	}
	db := filepath.Join(home, store.DBFile)
	aside := db + ".corrupt-" + time.Now().UTC().Format("20060102T150405Z")
	if err := os.Rename(db, aside); err != nil {
		return fmt.Errorf("move the corrupt store aside: %w", err)
	}
	if err := os.Remove(filepath.Join(home, store.OwnerFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the store's owner file: %w", err)
	}
	fmt.Fprintf(o.out, "Moved the corrupt store aside to %s; the next daemon starts with an empty one. Delete the file once you no longer need it.\n", aside)
	return nil
}

// removeInstance removes every container and network labelled with
// instance, and says what it removed.
func removeInstance(ctx context.Context, o *downOptions, instance string) error {
	engine, err := docker.New(ctx)
	if err != nil {
		return fmt.Errorf("docker engine: %w", err)
	}
	defer engine.Close()
	match := map[string]string{orchestrator.LabelInstance: instance}
	ctrs, err := engine.List(ctx, match)
	if err != nil {
		return fmt.Errorf("list the containers of instance %q: %w", instance, err)
	}
	removed := 0
	for _, c := range ctrs {
		if err := engine.Remove(ctx, c.ID); err != nil && !errors.Is(err, rt.ErrNotFound) {
			return fmt.Errorf("remove container %s of instance %q: %w", c.Name, instance, err)
		}
		removed++
	}
	nets, err := engine.ListNetworks(ctx, match)
	if err != nil {
		return fmt.Errorf("list the networks of instance %q: %w", instance, err)
	}
	var names []string
	for _, n := range nets {
		if err := engine.RemoveNetwork(ctx, n.Name); err != nil && !errors.Is(err, rt.ErrNotFound) {
			return fmt.Errorf("remove network %s of instance %q: %w", n.Name, instance, err)
		}
		names = append(names, n.Name)
	}
	fmt.Fprintf(o.out, "Removed %s and %s (%s) of instance %s, found by their label %s=%s.\n",
		count(removed, "container"), count(len(names), "network"), strings.Join(names, ", "), instance, orchestrator.LabelInstance, instance)
	return nil
}

// count says "1 network", "3 containers".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
