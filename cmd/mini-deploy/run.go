package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Generators of `run`, as kubectl before 1.18 named them.
const (
	generatorDeployment = "deployment/apps.v1"
	generatorRC         = "run/v1"
)

type runOptions struct {
	generateOptions
	image     string
	port      int32
	replicas  int32
	generator string
}

func newRunCommand(g *globalOptions) *cobra.Command {
	o := &runOptions{generateOptions: generateOptions{globalOptions: g}}
	cmd := &cobra.Command{
		Use:   "run NAME --image=IMAGE [--port=PORT] [--replicas=N] [--generator=run/v1]",
		Short: "Run an image: a Deployment (or, with --generator=run/v1, a ReplicationController) labelled run=NAME",
		Long: `Run an image. A pod here always belongs to a controller, so where today's kubectl
creates a bare Pod, run creates what kubectl did before 1.18: a Deployment, or with
--generator=run/v1 the ReplicationController of the seed's first command.

Examples:
  mini-deploy run kubia --image=luksa/kubia:v1 --port=8080
  mini-deploy run kubia --image=luksa/kubia --port=8080 --generator=run/v1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.image == "" {
				return fmt.Errorf("required flag(s) \"image\" not set")
			}
			name := args[0]
			labels := map[string]string{"run": name}
			var obj api.Object
			switch o.generator {
			case generatorDeployment, "":
				obj = newDeployment(name, o.namespace, labels, o.replicas, o.image, o.port)
			case generatorRC:
				obj = &api.ReplicationController{
					TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: api.KindReplicationController},
					ObjectMeta: api.ObjectMeta{Name: name, Namespace: o.namespace, Labels: labels},
					Spec: api.ReplicationControllerSpec{Replicas: &o.replicas, Selector: labels,
						Template: &api.PodTemplateSpec{ObjectMeta: api.ObjectMeta{Labels: labels},
							Spec: api.PodSpec{Containers: []api.Container{imageContainer(o.image, o.port)}}}},
				}
			default:
				return fmt.Errorf("generator %q not found: use %s (the default) or %s", o.generator, generatorDeployment, generatorRC)
			}
			return o.create(cmd.Context(), []api.Object{obj}, "created")
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.image, "image", "", "the image to run (required)")
	f.Int32Var(&o.port, "port", -1, "the port the container listens on")
	f.Int32Var(&o.replicas, "replicas", 1, "number of replicas")
	f.StringVar(&o.generator, "generator", generatorDeployment, "what to create: "+generatorDeployment+" or "+generatorRC)
	o.register(cmd)
	return cmd
}
