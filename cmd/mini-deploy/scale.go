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
	files    []string
}

func newScaleCommand(g *globalOptions) *cobra.Command {
	o := &scaleOptions{globalOptions: g, replicas: -1}
	cmd := &cobra.Command{
		Use:   "scale TYPE/NAME --replicas=N | TYPE NAME --replicas=N",
		Short: "Set the number of replicas of a ReplicationController, ReplicaSet or Deployment",
		Long: `Set the number of replicas.

Examples:
  mini-deploy scale rc/kubia-v1 --replicas=5
  mini-deploy scale deployment kubia --replicas=1
  mini-deploy scale -f examples/kubia/kubia.yaml --replicas=2`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runScale(cmd.Context(), o)
		},
	}
	cmd.Flags().Int32Var(&o.replicas, "replicas", -1, "the new number of replicas (required)")
	cmd.Flags().StringArrayVarP(&o.files, "filename", "f", nil, "scale the objects of these manifests (file, directory or -)")
	return cmd
}

func runScale(ctx context.Context, o *scaleOptions) error {
	if o.replicas < 0 {
		return errors.New("the --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
	}
	targets, err := scaleTargets(o)
	if err != nil {
		return err
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

// scaleTargets are the objects named by the arguments, or by the files of
// -f (the workloads among them).
func scaleTargets(o *scaleOptions) ([]target, error) {
	if len(o.files) == 0 {
		t, rest, err := parseOne("scale", o.args, api.KindReplicationController, api.KindReplicaSet, api.KindDeployment)
		if err != nil {
			return nil, err
		}
		targets := []target{t}
		for _, name := range rest {
			targets = append(targets, target{t.typ, name})
		}
		return targets, nil
	}
	if len(o.args) > 0 {
		return nil, errors.New("give objects either as arguments or with -f, not both")
	}
	objs, err := readManifests(o.globalOptions, o.files, false)
	if err != nil {
		return nil, err
	}
	var targets []target
	for _, obj := range objs {
		kind := obj.GetTypeMeta().Kind
		if kind != api.KindReplicationController && kind != api.KindReplicaSet && kind != api.KindDeployment {
			continue
		}
		if obj.Meta().Namespace != o.namespace {
			return nil, fmt.Errorf("%s is in namespace %q: pass --namespace=%s", printer.Name(obj), obj.Meta().Namespace, obj.Meta().Namespace)
		}
		targets = append(targets, target{typeOfKind(kind), obj.Meta().Name})
	}
	if len(targets) == 0 {
		return nil, errors.New("the files hold nothing to scale: no deployment, replicaset or replicationcontroller")
	}
	return targets, nil
}
