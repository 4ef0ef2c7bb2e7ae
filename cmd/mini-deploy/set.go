package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/cmd/mini-deploy/internal/printer"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/labels"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

func newSetCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "set SUBCOMMAND",
		Short: "Change one field of an object: a template's image, env or resources, a Service's selector",
	}
	cmd.AddCommand(newSetImageCommand(g), newSetSelectorCommand(g), newSetEnvCommand(g), newSetResourcesCommand(g))
	return cmd
}

type setImageOptions struct {
	*globalOptions
	args   []string
	record bool
}

func newSetImageCommand(g *globalOptions) *cobra.Command {
	o := &setImageOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "image TYPE/NAME CONTAINER=IMAGE... | TYPE NAME CONTAINER=IMAGE...",
		Short: "Set the image of containers of a Deployment, ReplicaSet or ReplicationController",
		Long: `Set container images in a pod template. For a Deployment this starts a
rollout; a ReplicaSet or ReplicationController only uses the image for pods it
creates from now on. CONTAINER may be * for every container.

Examples:
  mini-deploy set image deployment/kubia nodejs=luksa/kubia:v2
  mini-deploy set image rc kubia-v1 '*=luksa/kubia:v2'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runSetImage(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.record, "record", false, "record the command line as the change-cause (a Deployment's rollout history shows it)")
	return cmd
}

func runSetImage(ctx context.Context, o *setImageOptions) error {
	t, rest, err := parseOne("set image", o.args, api.KindDeployment, api.KindReplicaSet, api.KindReplicationController)
	if err != nil {
		return err
	}
	images, err := parseImages(rest)
	if err != nil {
		return err
	}
	c := o.client()
	defer c.Close()
	if _, err := c.SetImage(ctx, t.typ.kind, o.namespace, t.name, images); err != nil {
		return err
	}
	if o.record && t.typ.kind == api.KindDeployment {
		if err := recordChangeCause(ctx, o.globalOptions, t.name); err != nil {
			return err
		}
	}
	fmt.Fprintf(o.out, "%s/%s image updated\n", printer.Resource(t.typ.kind), t.name)
	return nil
}

// recordChangeCause writes the command line into the Deployment's
// change-cause annotation, by applying it back, as kubectl's --record did.
func recordChangeCause(ctx context.Context, g *globalOptions, name string) error {
	c := g.client()
	defer c.Close()
	obj, err := c.Get(ctx, api.KindDeployment, g.namespace, name)
	if err != nil {
		return err
	}
	d := obj.DeepCopy()
	m := d.Meta()
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[api.AnnotationChangeCause] = g.commandLine
	api.ClearServerFields(d)
	_, err = c.Apply(ctx, []api.Object{d}, server.ApplyOptions{})
	return err
}

// parseImages reads CONTAINER=IMAGE pairs.
func parseImages(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, errors.New("at least one image update is required: CONTAINER=IMAGE")
	}
	images := map[string]string{}
	for _, a := range args {
		name, image, ok := strings.Cut(a, "=")
		if !ok || name == "" || image == "" {
			return nil, fmt.Errorf("%q is not a CONTAINER=IMAGE pair", a)
		}
		images[name] = image
	}
	return images, nil
}

type setSelectorOptions struct {
	*globalOptions
	args            []string
	resourceVersion string
}

func newSetSelectorCommand(g *globalOptions) *cobra.Command {
	o := &setSelectorOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "selector svc/NAME SELECTOR | svc NAME SELECTOR",
		Short: "Replace a Service's selector: the blue/green switch",
		Long: `Replace the label selector of a Service. Its endpoints switch at once to the
ready pods the new selector matches; requests already in flight on the old ones
finish. With --resource-version, the change is refused if the Service changed since.

Examples:
  mini-deploy set selector svc kubia 'app=kubia-v2'
  mini-deploy set selector svc/kubia app=kubia,version=v2 --resource-version=42`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runSetSelector(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.resourceVersion, "resource-version", "", "only change the Service if its resourceVersion is still this one")
	return cmd
}

func runSetSelector(ctx context.Context, o *setSelectorOptions) error {
	t, rest, err := parseOne("set selector", o.args, api.KindService)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New("one selector is required, such as 'app=kubia-v2'")
	}
	sel, err := parseSelectorSet(rest[0])
	if err != nil {
		return err
	}
	c := o.client()
	defer c.Close()
	if _, err := c.SetSelector(ctx, o.namespace, t.name, sel, o.resourceVersion); err != nil {
		return err
	}
	fmt.Fprintf(o.out, "%s/%s selector updated\n", printer.Resource(t.typ.kind), t.name)
	return nil
}

// parseSelectorSet reads an equality selector, the only kind a Service
// has: app=kubia-v2,tier==web.
func parseSelectorSet(s string) (map[string]string, error) {
	set := map[string]string{}
	for _, term := range strings.Split(s, ",") {
		term = strings.TrimSpace(term)
		k, v, ok := strings.Cut(term, "=")
		v = strings.TrimPrefix(v, "=")
		if !ok || strings.HasSuffix(k, "!") || strings.ContainsAny(v, "=()") {
			return nil, fmt.Errorf("selector %q: a Service selects by equality only, as key=value[,key=value]", s)
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		if err := labels.ValidateKey(k); err != nil {
			return nil, fmt.Errorf("selector %q: %w", s, err)
		}
		if err := labels.ValidateValue(k, v); err != nil {
			return nil, fmt.Errorf("selector %q: %w", s, err)
		}
		set[k] = v
	}
	return set, nil
}
