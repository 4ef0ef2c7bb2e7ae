package main

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/cmd/mini-deploy/internal/printer"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

// generateOptions are what `create deployment`, `expose` and `run` share:
// they make an object from flags and create it, or with --dry-run=client
// only print it (`-o yaml` writes a manifest to start from).
type generateOptions struct {
	*globalOptions
	dryRun string
	output string
}

func (o *generateOptions) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.dryRun, "dry-run", dryRunNone, `"client" prints the object without creating it; "server" has the daemon check it`)
	f.Lookup("dry-run").NoOptDefVal = dryRunClient
	f.StringVarP(&o.output, "output", "o", "", "with --dry-run: print the object as yaml, json or name")
}

// create stores objs, none of which may exist yet, and prints kubectl's
// line for each with word (created, exposed).
func (o *generateOptions) create(ctx context.Context, objs []api.Object, word string) error {
	if o.dryRun != dryRunNone && o.dryRun != dryRunClient && o.dryRun != dryRunServer {
		return fmt.Errorf(`invalid dry-run value (%s). Must be "none", "server", or "client"`, o.dryRun)
	}
	if o.output != "" && !printer.ValidFormat(o.output) {
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,yaml", o.output)
	}
	suffix := ""
	if o.dryRun == dryRunClient {
		suffix = " (dry run)"
	}
	if o.dryRun != dryRunClient {
		c := o.client()
		defer c.Close()
		for _, obj := range objs {
			_, err := c.Get(ctx, obj.GetTypeMeta().Kind, obj.Meta().Namespace, obj.Meta().Name)
			if err == nil {
				return fmt.Errorf("%s %q already exists", api.Resource(obj.GetTypeMeta().Kind), obj.Meta().Name)
			}
			if !isNotFound(err) {
				return err
			}
		}
		if _, err := c.Apply(ctx, objs, server.ApplyOptions{DryRun: o.dryRun == dryRunServer}); err != nil {
			return err
		}
		if o.dryRun == dryRunServer {
			suffix = " (server dry run)"
		}
	}
	if o.output != "" {
		return printer.New(o.out, printer.Options{Format: o.output}).Print(objs, true)
	}
	for _, obj := range objs {
		fmt.Fprintf(o.out, "%s %s%s\n", printer.Name(obj), word, suffix)
	}
	return nil
}

type createOptions struct {
	generateOptions
	files        []string
	namespaceSet bool
}

func newCreateCommand(g *globalOptions) *cobra.Command {
	o := &createOptions{generateOptions: generateOptions{globalOptions: g}}
	cmd := &cobra.Command{
		Use:   "create -f FILE | create deployment NAME --image=IMAGE",
		Short: "Create objects from manifests, or a Deployment from flags",
		Long: `Create the objects of manifests; unlike apply, an object that exists already is
an error. "create deployment" makes a Deployment from flags.

Examples:
  mini-deploy create -f examples/kubia/
  mini-deploy create deployment kubia --image=luksa/kubia:v1 --replicas=3 --port=8080
  mini-deploy create deployment kubia --image=luksa/kubia:v1 --dry-run=client -o yaml > kubia.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q\nSee '%s -h' for help and examples", strings.Join(args, " "), cmd.CommandPath())
			}
			if len(o.files) == 0 {
				return errors.New("must specify one of -f and -k")
			}
			o.namespaceSet = cmd.Flags().Changed("namespace")
			objs, err := readManifests(o.globalOptions, o.files, o.namespaceSet)
			if err != nil {
				return err
			}
			return o.create(cmd.Context(), objs, "created")
		},
	}
	cmd.Flags().StringArrayVarP(&o.files, "filename", "f", nil, "manifest file, directory or - for stdin (repeatable)")
	o.register(cmd)
	cmd.AddCommand(newCreateDeploymentCommand(g))
	return cmd
}

type createDeploymentOptions struct {
	generateOptions
	image    string
	replicas int32
	port     int32
}

func newCreateDeploymentCommand(g *globalOptions) *cobra.Command {
	o := &createDeploymentOptions{generateOptions: generateOptions{globalOptions: g}}
	cmd := &cobra.Command{
		Use:     "deployment NAME --image=IMAGE [--replicas=N] [--port=PORT]",
		Aliases: []string{"deploy"},
		Short:   "Create a Deployment of one image, labelled app=NAME",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.image == "" {
				return errors.New("required flag(s) \"image\" not set")
			}
			d := newDeployment(args[0], o.namespace, map[string]string{"app": args[0]}, o.replicas, o.image, o.port)
			return o.create(cmd.Context(), []api.Object{d}, "created")
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.image, "image", "", "the image of the container (required)")
	f.Int32Var(&o.replicas, "replicas", 1, "number of replicas")
	f.Int32Var(&o.port, "port", -1, "the port the container listens on")
	o.register(cmd)
	return cmd
}

// newDeployment is the Deployment `create deployment` makes: kubectl's
// shape, with the container named after the image (luksa/kubia:v1: kubia).
func newDeployment(name, ns string, labels map[string]string, replicas int32, image string, port int32) *api.Deployment {
	return &api.Deployment{
		TypeMeta:   api.TypeMeta{APIVersion: "apps/v1", Kind: api.KindDeployment},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: api.DeploymentSpec{
			Replicas: &replicas,
			Selector: &api.LabelSelector{MatchLabels: labels},
			Template: api.PodTemplateSpec{
				ObjectMeta: api.ObjectMeta{Labels: labels},
				Spec:       api.PodSpec{Containers: []api.Container{imageContainer(image, port)}},
			},
		},
	}
}

func imageContainer(image string, port int32) api.Container {
	base := path.Base(image)
	if i := strings.IndexAny(base, ":@"); i > 0 {
		base = base[:i]
	}
	c := api.Container{Name: base, Image: image}
	if port >= 0 {
		c.Ports = []api.ContainerPort{{ContainerPort: port}}
	}
	return c
}
