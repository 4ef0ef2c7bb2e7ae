package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/cmd/mini-deploy/internal/printer"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

type scaleOptions struct {
	*globalOptions
	args     []string
	replicas int32
}

func newScaleCommand(g *globalOptions) *cobra.Command {
	o := &scaleOptions{globalOptions: g, replicas: -1}
	cmd := &cobra.Command{
		Use:   "scale TYPE/NAME --replicas=N | TYPE NAME --replicas=N",
		Short: "Set the number of replicas of a ReplicationController, ReplicaSet or Deployment",
		Long: `Set the number of replicas.

Examples:
  mini-deploy scale rc/kubia-v1 --replicas=5
  mini-deploy scale deployment kubia --replicas=1`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runScale(cmd.Context(), o)
		},
	}
	cmd.Flags().Int32Var(&o.replicas, "replicas", -1, "the new number of replicas (required)")
	return cmd
}

func runScale(ctx context.Context, o *scaleOptions) error {
	if o.replicas < 0 {
		return errors.New("the --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
	}
	t, rest, err := parseOne("scale", o.args, api.KindReplicationController, api.KindReplicaSet, api.KindDeployment)
	if err != nil {
		return err
	}
	targets := []target{t}
	for _, name := range rest {
		targets = append(targets, target{t.typ, name})
	}
	c := o.client()
	defer c.Close()
	var errs []error
	for _, t := range targets {
		if _, err := c.Scale(ctx, t.typ.kind, o.namespace, t.name, o.replicas); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(o.out, "%s/%s scaled\n", printer.Resource(t.typ.kind), t.name)
	}
	return errors.Join(errs...)
}
