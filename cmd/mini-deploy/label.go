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
	"github.com/mini-deploy/mini-deploy/orchestrator/client"
	"github.com/mini-deploy/mini-deploy/orchestrator/labels"
)

// updateRetries bounds how often a read-change-write verb starts again
// when a controller wrote the object between its read and its write.
const updateRetries = 5

// metaOptions are `label` and `annotate`: the same verb on two maps.
type metaOptions struct {
	*globalOptions
	annotate        bool
	args            []string
	overwrite       bool
	selector        string
	all             bool
	resourceVersion string
}

func newLabelCommand(g *globalOptions) *cobra.Command {
	return newMetaCommand(g, false, `label (TYPE NAME | TYPE/NAME | TYPE -l SELECTOR | TYPE --all) KEY=VALUE... KEY-...`,
		"Add, change or remove labels of objects",
		`Set labels: KEY=VALUE adds one, KEY- removes one. A label that already has
a value is changed only with --overwrite.

Examples:
  mini-deploy label deployment kubia tier=web
  mini-deploy label deploy/kubia tier=api --overwrite
  mini-deploy label svc kubia tier-`)
}

func newAnnotateCommand(g *globalOptions) *cobra.Command {
	return newMetaCommand(g, true, `annotate (TYPE NAME | TYPE/NAME | TYPE -l SELECTOR | TYPE --all) KEY=VALUE... KEY-...`,
		"Add, change or remove annotations of objects",
		`Set annotations: KEY=VALUE adds one, KEY- removes one. An annotation that
already has a value is changed only with --overwrite. The annotation
kubernetes.io/change-cause of a Deployment is what "rollout history" shows for
its current revision, so a rollout can be described without --record.

Examples:
  mini-deploy annotate deployment kubia kubernetes.io/change-cause="kubia v2, the new greeting"
  mini-deploy annotate deploy/kubia owner=blue --overwrite
  mini-deploy annotate deploy/kubia owner-`)
}

func newMetaCommand(g *globalOptions, annotate bool, use, short, long string) *cobra.Command {
	o := &metaOptions{globalOptions: g, annotate: annotate}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runMeta(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.overwrite, "overwrite", false, "change values that are already set")
	f.StringVarP(&o.selector, "selector", "l", "", "label selector of the objects to change")
	f.BoolVar(&o.all, "all", false, "change every object of the type in the namespace")
	f.StringVar(&o.resourceVersion, "resource-version", "", "change the object only if its resourceVersion is still this one")
	return cmd
}

func (o *metaOptions) what() string {
	if o.annotate {
		return "annotation"
	}
	return "label"
}

// parseMetaChanges splits KEY=VALUE and KEY- arguments from the rest.
func parseMetaChanges(args []string, what string) (set map[string]string, remove []string, rest []string, err error) {
	set = map[string]string{}
	for _, a := range args {
		switch {
		case strings.Contains(a, "="):
			k, v, _ := strings.Cut(a, "=")
			if err := labels.ValidateKey(k); err != nil {
				return nil, nil, nil, fmt.Errorf("invalid %s spec: %s: %w", what, a, err)
			}
			if what == "label" {
				if err := labels.ValidateValue(k, v); err != nil {
					return nil, nil, nil, fmt.Errorf("invalid label spec: %s: %w", a, err)
				}
			}
			set[k] = v
		case strings.HasSuffix(a, "-"): // no object's name ends in "-"
			remove = append(remove, strings.TrimSuffix(a, "-"))
		default:
			rest = append(rest, a)
		}
	}
	for _, k := range remove {
		if _, ok := set[k]; ok {
			return nil, nil, nil, fmt.Errorf("can not both modify and remove the following %s(s) in the same command: %s", what, k)
		}
	}
	if len(set) == 0 && len(remove) == 0 {
		return nil, nil, nil, fmt.Errorf("at least one %s update is required", what)
	}
	return set, remove, rest, nil
}

func runMeta(ctx context.Context, o *metaOptions) error {
	set, remove, rest, err := parseMetaChanges(o.args, o.what())
	if err != nil {
		return err
	}
	verb := o.what()
	if o.annotate {
		verb = "annotate"
	}
	targets, err := parseTargets(verb, rest, false)
	if err != nil {
		return err
	}
	c := o.client()
	defer c.Close()
	named, err := resolveTargets(ctx, c, o.namespace, targets, o.selector, o.all)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range named {
		msg, err := o.change(ctx, c, t, set, remove)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(o.out, "%s/%s %s\n", printer.Resource(t.typ.kind), t.name, msg)
	}
	return errors.Join(errs...)
}

// resolveTargets turns TYPE -l SELECTOR and TYPE --all into the objects
// they name now; named targets stay as they are.
func resolveTargets(ctx context.Context, c *client.Client, ns string, targets []target, selector string, all bool) ([]target, error) {
	var named []target
	for _, t := range targets {
		if t.name != "" {
			if selector != "" || all {
				return nil, errors.New("cannot set --all and --selector at the same time as naming objects")
			}
			named = append(named, t)
			continue
		}
		if selector == "" && !all {
			return nil, errors.New("resource(s) were provided, but no name was specified: give NAME, -l SELECTOR or --all")
		}
		objs, err := c.List(ctx, t.typ.kind, ns, selector)
		if err != nil {
			return nil, err
		}
		for _, obj := range objs {
			named = append(named, target{t.typ, obj.Meta().Name})
		}
	}
	if len(named) == 0 {
		return nil, errors.New("no objects passed to update")
	}
	return named, nil
}

// change sets and removes keys of one object's labels or annotations and
// returns kubectl's word for what happened.
func (o *metaOptions) change(ctx context.Context, c *client.Client, t target, set map[string]string, remove []string) (string, error) {
	return updateObject(ctx, c, t.typ.kind, o.namespace, t.name, o.resourceVersion, func(obj api.Object) (string, error) {
		m := obj.Meta()
		field := &m.Labels
		if o.annotate {
			field = &m.Annotations
		}
		before := maps.Clone(*field)
		if !o.overwrite {
			var taken []string
			for _, k := range slices.Sorted(maps.Keys(set)) {
				if cur, ok := before[k]; ok && cur != set[k] {
					taken = append(taken, fmt.Sprintf("'%s' already has a value (%s)", k, cur))
				}
			}
			if len(taken) > 0 && o.annotate {
				return "", fmt.Errorf("--overwrite is false but found the following declared annotation(s): %s", strings.Join(taken, ", "))
			}
			if len(taken) > 0 {
				return "", fmt.Errorf("%s, and --overwrite is false", strings.Join(taken, ", "))
			}
		}
		next := maps.Clone(before)
		if next == nil {
			next = map[string]string{}
		}
		maps.Copy(next, set)
		for _, k := range remove {
			delete(next, k)
		}
		if len(next) == 0 {
			next = nil
		}
		*field = next
		switch {
		case o.annotate:
			return "annotated", nil
		case maps.Equal(before, next):
			return "not labeled", nil
		case len(next) < len(before) && len(set) == 0:
			return "unlabeled", nil
		}
		return "labeled", nil
	})
}

// updateObject reads one object, changes it with change, and writes it
// back with the resourceVersion it read as a precondition, starting again
// when a controller wrote it in between. resourceVersion, when set, is the
// version the user read: a conflict with it is the user's, and final.
func updateObject(ctx context.Context, c *client.Client, kind, ns, name, resourceVersion string, change func(api.Object) (string, error)) (string, error) {
	for attempt := 1; ; attempt++ {
		obj, err := c.Get(ctx, kind, ns, name)
		if err != nil {
			return "", err
		}
		if resourceVersion != "" && obj.Meta().ResourceVersion != resourceVersion {
			return "", fmt.Errorf("Operation cannot be fulfilled on %s %q: the object has been modified; please apply your changes to the latest version and try again", typeOfKind(kind).plural, name)
		}
		next := obj.DeepCopy()
		msg, err := change(next)
		if err != nil {
			return "", err
		}
		_, err = c.Update(ctx, next)
		if err == nil || !errors.Is(err, api.ErrConflict) || resourceVersion != "" || attempt == updateRetries {
			return msg, err
		}
	}
}
