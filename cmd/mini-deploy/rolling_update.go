package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Phases of a RollingUpdate record.
const (
	phaseSucceeded = "Succeeded"
	phaseFailed    = "Failed"
)

type rollingUpdateOptions struct {
	*globalOptions
	args         []string
	image        string
	container    string
	updatePeriod time.Duration
	timeout      time.Duration
}

func newRollingUpdateCommand(g *globalOptions) *cobra.Command {
	o := &rollingUpdateOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "rolling-update OLD [NEW] --image=IMAGE",
		Short: "Replace a ReplicationController with a new one, step by step (deprecated: use rollout)",
		Long: `Replace ReplicationController OLD with NEW running IMAGE: scale NEW up and OLD
down one pod at a time, then delete OLD. Unlike kubectl, the daemon carries it out
and records it: interrupting this command leaves nothing half-done, and running
it again follows the same update from the start.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Printed here rather than through cobra's Deprecated, which
			// writes to stdout once an output is set: the seed shows it as
			// a notice, and scripts reading stdout must not get it.
			fmt.Fprintln(o.errOut, `Command "rolling-update" is deprecated, use "rollout" instead`)
			o.args = args
			return runRollingUpdate(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.image, "image", "", "image of the new ReplicationController's pods")
	f.StringVarP(&o.container, "container", "c", "", "container whose image changes (default: the only one)")
	f.DurationVar(&o.updatePeriod, "update-period", time.Second, "time to wait between steps")
	f.DurationVar(&o.timeout, "timeout", 5*time.Minute, "stop following after this long (the daemon carries on)")
	return cmd
}

func runRollingUpdate(ctx context.Context, o *rollingUpdateOptions) error {
	spec := api.RollingUpdateSpec{From: o.args[0], Image: o.image, Container: o.container, UpdatePeriod: o.updatePeriod.String()}
	if len(o.args) == 2 {
		spec.To = o.args[1]
	}
	if spec.Image == "" && spec.To == "" {
		return errors.New("--image is required when NEW is not given")
	}
	c := o.client()
	defer c.Close()
	ru, err := c.RollingUpdate(ctx, o.namespace, spec)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(o.timeout)
	printed := 0
	for {
		for ; printed < len(ru.Status.Lines); printed++ {
			fmt.Fprintln(o.out, ru.Status.Lines[printed])
		}
		switch ru.Status.Phase {
		case phaseSucceeded:
			return nil
		case phaseFailed:
			return fmt.Errorf("rolling update of %s failed", spec.From)
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(o.errOut, "interrupted: the daemon finishes the rolling update of %s by itself; run the same command again to follow it\n", spec.From)
			return &exitError{msg: "interrupted"}
		case <-time.After(rolloutPollInterval):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w; the daemon carries on with the rolling update of %s: run the same command again to follow it", errTimedOut, spec.From)
		}
		obj, err := c.Get(ctx, api.KindRollingUpdate, o.namespace, ru.Name)
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return err
		}
		next, ok := obj.(*api.RollingUpdate)
		if !ok {
			return fmt.Errorf("the daemon answered with a %s", obj.GetTypeMeta().Kind)
		}
		ru = next
	}
}
