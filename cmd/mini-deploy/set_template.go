package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/cmd/mini-deploy/internal/printer"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// `set env` and `set resources` change the containers of a workload's pod
// template; a Deployment rolls the change out.

// templateCommandOptions are the arguments both verbs share.
type templateCommandOptions struct {
	*globalOptions
	args      []string
	container string
	selector  string
	all       bool
}

func (o *templateCommandOptions) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&o.container, "containers", "c", "*", "the containers to change (a name, or * for every one)")
	f.StringVarP(&o.selector, "selector", "l", "", "label selector of the objects to change")
	f.BoolVar(&o.all, "all", false, "change every object of the type")
}

// each applies change to the selected containers of every object named by
// targets, and prints "TYPE/NAME word" for each.
func (o *templateCommandOptions) each(ctx context.Context, verb string, targets []target, word string, change func(c *api.Container) error) error {
	c := o.client()
	defer c.Close()
	named, err := resolveTargets(ctx, c, o.namespace, targets, o.selector, o.all)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range named {
		_, err := updateObject(ctx, c, t.typ.kind, o.namespace, t.name, "", func(obj api.Object) (string, error) {
			tmpl := api.PodTemplateOf(obj)
			if tmpl == nil {
				return "", fmt.Errorf("cannot %s %s: only deployments, replicasets and replicationcontrollers have a pod template", verb, t.typ.plural)
			}
			found := false
			for i := range tmpl.Spec.Containers {
				if o.container == "*" || tmpl.Spec.Containers[i].Name == o.container {
					found = true
					if err := change(&tmpl.Spec.Containers[i]); err != nil {
						return "", err
					}
				}
			}
			if !found {
				return "", fmt.Errorf("unable to find container named %q", o.container)
			}
			return word, nil
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(o.out, "%s/%s %s\n", printer.Resource(t.typ.kind), t.name, word)
	}
	return errors.Join(errs...)
}

type setEnvOptions struct {
	templateCommandOptions
	list bool
}

func newSetEnvCommand(g *globalOptions) *cobra.Command {
	o := &setEnvOptions{templateCommandOptions: templateCommandOptions{globalOptions: g}}
	cmd := &cobra.Command{
		Use:   "env (TYPE NAME | TYPE/NAME | TYPE -l SELECTOR) KEY=VALUE... KEY-... | --list",
		Short: "Set or remove environment variables of a pod template",
		Long: `Set (KEY=VALUE) or remove (KEY-) environment variables of the containers of a
pod template; --list prints them.

Examples:
  mini-deploy set env deployment/kubia GREETING=hello
  mini-deploy set env deploy/kubia GREETING-
  mini-deploy set env deploy/kubia --list`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runSetEnv(cmd.Context(), o)
		},
	}
	o.register(cmd)
	cmd.Flags().BoolVar(&o.list, "list", false, "print the variables instead of changing them")
	return cmd
}

func runSetEnv(ctx context.Context, o *setEnvOptions) error {
	set := map[string]string{}
	var remove, rest []string
	for _, a := range o.args {
		switch {
		case strings.Contains(a, "="):
			k, v, _ := strings.Cut(a, "=")
			if k == "" {
				return fmt.Errorf("invalid env: %s", a)
			}
			set[k] = v
		case strings.HasSuffix(a, "-"):
			remove = append(remove, strings.TrimSuffix(a, "-"))
		default:
			rest = append(rest, a)
		}
	}
	targets, err := parseTargets("set env", rest, false)
	if err != nil {
		return err
	}
	if o.list {
		return listEnv(ctx, o, targets)
	}
	if len(set) == 0 && len(remove) == 0 {
		return errors.New("at least one environment variable must be provided")
	}
	return o.each(ctx, "set env", targets, "env updated", func(c *api.Container) error {
		var env []api.EnvVar
		for _, e := range c.Env {
			if _, drop := set[e.Name]; drop || slices.Contains(remove, e.Name) {
				continue
			}
			env = append(env, e)
		}
		for _, k := range slices.Sorted(maps.Keys(set)) {
			env = append(env, api.EnvVar{Name: k, Value: set[k]})
		}
		c.Env = env
		return nil
	})
}

// listEnv prints the variables as kubectl's `set env --list` does.
func listEnv(ctx context.Context, o *setEnvOptions, targets []target) error {
	c := o.client()
	defer c.Close()
	named, err := resolveTargets(ctx, c, o.namespace, targets, o.selector, o.all)
	if err != nil {
		return err
	}
	for _, t := range named {
		obj, err := c.Get(ctx, t.typ.kind, o.namespace, t.name)
		if err != nil {
			return err
		}
		tmpl := api.PodTemplateOf(obj)
		if tmpl == nil {
			return fmt.Errorf("%s %q has no pod template", t.typ.plural, t.name)
		}
		for _, ctr := range tmpl.Spec.Containers {
			if o.container != "*" && ctr.Name != o.container {
				continue
			}
			fmt.Fprintf(o.out, "# %s %s, container %s\n", t.typ.kind, t.name, ctr.Name)
			for _, e := range ctr.Env {
				fmt.Fprintf(o.out, "%s=%s\n", e.Name, e.Value)
			}
		}
	}
	return nil
}

type setResourcesOptions struct {
	templateCommandOptions
	limits   string
	requests string
}

func newSetResourcesCommand(g *globalOptions) *cobra.Command {
	o := &setResourcesOptions{templateCommandOptions: templateCommandOptions{globalOptions: g}}
	cmd := &cobra.Command{
		Use:   "resources (TYPE NAME | TYPE/NAME | TYPE -l SELECTOR) [--limits=cpu=200m,memory=512Mi] [--requests=cpu=100m]",
		Short: "Set the cpu and memory limits and requests of a pod template's containers",
		Long: `Set resource limits and requests of the containers of a pod template. Limits
become the engine's CPU quota and memory limit, requests its CPU shares and memory
reservation. A value of 0 removes the entry.

Examples:
  mini-deploy set resources deployment kubia --limits=cpu=200m,memory=64Mi
  mini-deploy set resources deploy/kubia -c nodejs --requests=cpu=100m`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runSetResources(cmd.Context(), o)
		},
	}
	o.register(cmd)
	cmd.Flags().StringVar(&o.limits, "limits", "", "the limits, as cpu=200m,memory=512Mi")
	cmd.Flags().StringVar(&o.requests, "requests", "", "the requests, as cpu=100m,memory=256Mi")
	return cmd
}

func runSetResources(ctx context.Context, o *setResourcesOptions) error {
	if o.limits == "" && o.requests == "" {
		return errors.New("you must specify an update to requests or limits (in the form of --requests/--limits)")
	}
	limits, err := parseResourceList(o.limits)
	if err != nil {
		return err
	}
	requests, err := parseResourceList(o.requests)
	if err != nil {
		return err
	}
	targets, err := parseTargets("set resources", o.args, false)
	if err != nil {
		return err
	}
	return o.each(ctx, "set resources", targets, "resource requirements updated", func(c *api.Container) error {
		if c.Resources == nil {
			c.Resources = &api.Resources{}
		}
		c.Resources.Limits = mergeResourceList(c.Resources.Limits, limits)
		c.Resources.Requests = mergeResourceList(c.Resources.Requests, requests)
		if c.Resources.Limits == nil && c.Resources.Requests == nil {
			c.Resources = nil
		}
		return nil
	})
}

// parseResourceList reads cpu=200m,memory=512Mi.
func parseResourceList(s string) (map[string]api.Quantity, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]api.Quantity{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("invalid argument syntax %s, expected <resource>=<value>", kv)
		}
		if _, err := api.ParseQuantity(v); err != nil {
			return nil, fmt.Errorf("%s=%s: %w", k, v, err)
		}
		out[k] = api.Quantity(v)
	}
	return out, nil
}

func mergeResourceList(cur, change map[string]api.Quantity) map[string]api.Quantity {
	out := maps.Clone(cur)
	for k, v := range change {
		if out == nil {
			out = map[string]api.Quantity{}
		}
		if v == "0" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
