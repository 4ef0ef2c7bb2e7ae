package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/cmd/mini-deploy/internal/printer"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

// rolloutPollInterval is how often `rollout status` asks again.
const rolloutPollInterval = 250 * time.Millisecond

// errTimedOut is kubectl's words for a wait that ran out.
var errTimedOut = errors.New("timed out waiting for the condition")

type rolloutOptions struct {
	*globalOptions
	action   string
	args     []string
	timeout  time.Duration
	watch    bool
	revision int64
	images   []string
	replicas int32
}

func newRolloutCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout SUBCOMMAND deployment/NAME",
		Short: "Follow and steer the rollouts of a Deployment",
		Long: `Follow and steer Deployment rollouts: status, history, undo, pause, resume,
restart, and plan (a dry run of a proposed change, step by step).

Examples:
  mini-deploy rollout status deployment/kubia
  mini-deploy rollout history deployment/kubia
  mini-deploy rollout undo deployment/kubia --to-revision=1
  mini-deploy rollout plan deployment/kubia --image=nodejs=luksa/kubia:v2`,
	}
	sub := func(action, short string, flags func(*cobra.Command, *rolloutOptions)) *cobra.Command {
		o := &rolloutOptions{globalOptions: g, action: action, watch: true, replicas: -1}
		c := &cobra.Command{
			Use:   action + " deployment/NAME",
			Short: short,
			RunE: func(cmd *cobra.Command, args []string) error {
				o.args = args
				return runRollout(cmd.Context(), o)
			},
		}
		if flags != nil {
			flags(c, o)
		}
		return c
	}
	cmd.AddCommand(
		sub(server.RolloutStatus, "Wait for a rollout to finish, printing its progress", func(c *cobra.Command, o *rolloutOptions) {
			c.Flags().DurationVar(&o.timeout, "timeout", 0, "give up after this long (0: wait until the rollout ends)")
			c.Flags().BoolVarP(&o.watch, "watch", "w", true, "wait for the rollout to finish; false prints the status once")
			c.Flags().Int64Var(&o.revision, "revision", 0, "follow this revision; fail if the rollout moved on")
		}),
		sub(server.RolloutHistory, "List the revisions of a Deployment", func(c *cobra.Command, o *rolloutOptions) {
			c.Flags().Int64Var(&o.revision, "revision", 0, "print the pod template of this revision")
		}),
		sub(server.RolloutUndo, "Roll back to the previous revision, or --to-revision", func(c *cobra.Command, o *rolloutOptions) {
			c.Flags().Int64Var(&o.revision, "to-revision", 0, "the revision to roll back to (0: the previous one)")
		}),
		sub(server.RolloutPause, "Pause a Deployment: changes wait until resume", nil),
		sub(server.RolloutResume, "Resume a paused Deployment", nil),
		sub(server.RolloutRestart, "Replace every pod, one rollout step at a time", nil),
		sub(server.RolloutPlan, "Print the steps a proposed change would take, without making it", func(c *cobra.Command, o *rolloutOptions) {
			c.Flags().StringArrayVar(&o.images, "image", nil, "proposed image, CONTAINER=IMAGE (repeatable)")
			c.Flags().Int32Var(&o.replicas, "replicas", -1, "proposed number of replicas")
		}),
	)
	return cmd
}

func runRollout(ctx context.Context, o *rolloutOptions) error {
	t, rest, err := parseOne("rollout "+o.action, o.args, api.KindDeployment)
	if err != nil {
		if t.typ == nil {
			if rt, _, perr := parseOne("rollout "+o.action, o.args); perr == nil && rt.typ.kind == api.KindReplicationController {
				return fmt.Errorf("%s %q cannot roll out: only deployments do; a replication controller is updated with \"mini-deploy rolling-update\"", rt.typ.plural, rt.name)
			}
		}
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(rest, " "))
	}
	c := o.client()
	defer c.Close()
	req := server.RolloutRequest{Action: o.action, Namespace: o.namespace, Name: t.name, Revision: o.revision}
	name := printer.Resource(api.KindDeployment) + "/" + t.name

	switch o.action {
	case server.RolloutStatus:
		return rolloutStatus(ctx, o, req)
	case server.RolloutHistory:
		resp, err := c.Rollout(ctx, req)
		if err != nil {
			return err
		}
		if o.revision > 0 {
			fmt.Fprintf(o.out, "%s with revision #%d\n", name, o.revision)
			return printer.New(o.out, printer.Options{}).PodTemplate(resp.Template)
		}
		fmt.Fprintln(o.out, name)
		return printer.New(o.out, printer.Options{}).History(resp.History)
	case server.RolloutPlan:
		if len(o.images) == 0 && o.replicas < 0 {
			return errors.New("a proposed change is required: --image=CONTAINER=IMAGE and/or --replicas=N")
		}
		if len(o.images) > 0 {
			req.Images = map[string]string{}
			for _, img := range o.images {
				c, i, ok := strings.Cut(img, "=")
				if !ok {
					c, i = "*", img
				}
				if c == "" || i == "" {
					return fmt.Errorf("--image %q: want CONTAINER=IMAGE", img)
				}
				req.Images[c] = i
			}
		}
		if o.replicas >= 0 {
			req.Replicas = &o.replicas
		}
		resp, err := c.Rollout(ctx, req)
		if err != nil {
			return err
		}
		if resp.Message != "" {
			fmt.Fprintln(o.out, resp.Message)
		}
		if len(resp.Plan) > 0 {
			return printer.New(o.out, printer.Options{}).Plan(resp.Plan)
		}
		return nil
	}

	resp, err := c.Rollout(ctx, req)
	if err != nil {
		return err
	}
	if resp.Message != "" {
		fmt.Fprintln(o.out, resp.Message)
		return nil
	}
	past := map[string]string{
		server.RolloutUndo:    "rolled back",
		server.RolloutPause:   "paused",
		server.RolloutResume:  "resumed",
		server.RolloutRestart: "restarted",
	}[o.action]
	fmt.Fprintf(o.out, "%s %s\n", name, past)
	return nil
}

// rolloutStatus prints each new status line until the rollout is done, has
// failed, or the timeout passes.
func rolloutStatus(ctx context.Context, o *rolloutOptions, req server.RolloutRequest) error {
	c := o.client()
	defer c.Close()
	var deadline <-chan time.Time
	if o.timeout > 0 {
		t := time.NewTimer(o.timeout)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(rolloutPollInterval)
	defer tick.Stop()
	// A rollback by mini-deploy.io/auto-rollback from now on means the
	// rollout being watched failed, even though the Deployment ends complete.
	req.Since = time.Now()
	last := ""
	for {
		resp, err := c.Rollout(ctx, req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if resp.Failed {
			return errors.New(strings.TrimSpace(resp.Message))
		}
		if resp.Message != last {
			fmt.Fprintln(o.out, resp.Message)
			last = resp.Message
		}
		if resp.Done || !o.watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return errTimedOut
		case <-tick.C:
		}
	}
}
