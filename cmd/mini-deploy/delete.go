package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/cmd/mini-deploy/internal/printer"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

type deleteOptions struct {
	*globalOptions
	args           []string
	files          []string
	selector       string
	all            bool
	cascade        string
	ignoreNotFound bool
	gracePeriod    int
	now            bool
	force          bool
	wait           bool
}

func newDeleteCommand(g *globalOptions) *cobra.Command {
	o := &deleteOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "delete (-f FILE | TYPE NAME... | TYPE/NAME... | TYPE -l selector | TYPE --all)",
		Short: "Delete objects; their pods go too unless --cascade=orphan",
		Long: `Delete objects by file, by name or by label selector. Deleting a
ReplicationController, ReplicaSet or Deployment deletes its pods too, unless
--cascade=orphan leaves them running. Deleting a pod of a ReplicationController
makes it start a new one.

Examples:
  mini-deploy delete rc kubia-v1
  mini-deploy delete pod/kubia-v1-x7k2p
  mini-deploy delete pods -l app=kubia
  mini-deploy delete -f examples/kubia/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runDelete(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "delete the objects of these manifests")
	f.StringVarP(&o.selector, "selector", "l", "", "delete the objects of TYPE matching this label selector")
	f.BoolVar(&o.all, "all", false, "delete every object of TYPE in the namespace")
	f.StringVar(&o.cascade, "cascade", "background", `"background", "foreground" or "orphan" (keep the pods)`)
	f.BoolVar(&o.ignoreNotFound, "ignore-not-found", false, "treat a missing object as deleted")
	f.IntVar(&o.gracePeriod, "grace-period", -1, "seconds a pod gets to stop, its drain included (-1: the pod's terminationGracePeriodSeconds)")
	f.BoolVar(&o.now, "now", false, "stop pods at once: --grace-period=1")
	f.BoolVar(&o.force, "force", false, "with --grace-period=0, kill pods without waiting for their requests to finish")
	f.BoolVar(&o.wait, "wait", true, "return once deleted pods are gone, as kubectl does")
	return cmd
}

func runDelete(ctx context.Context, o *deleteOptions) error {
	switch o.cascade {
	case "true":
		o.cascade = "background"
	case "false":
		o.cascade = "orphan"
	case "background", "foreground", "orphan":
	default:
		return fmt.Errorf(`invalid cascade value (%s). Must be "background", "foreground", or "orphan"`, o.cascade)
	}
	opts := server.DeleteOptions{Cascade: o.cascade}
	switch {
	case o.now && o.gracePeriod >= 0:
		return errors.New("--now and --grace-period cannot be specified together")
	case o.now:
		o.gracePeriod = 1
	case o.gracePeriod == 0 && !o.force:
		// As kubectl: 0 means "as soon as possible" unless forced.
		o.gracePeriod = 1
	case o.force && o.gracePeriod < 0:
		o.gracePeriod = 0
	}
	if o.gracePeriod >= 0 {
		g := int64(o.gracePeriod)
		opts.GracePeriodSeconds = &g
	}
	c := o.client()
	defer c.Close()

	type ref struct{ kind, ns, name string }
	var refs []ref
	switch {
	case len(o.files) > 0:
		if len(o.args) > 0 {
			return errors.New("cannot name objects both with -f and as arguments")
		}
		objs, err := readManifests(o.globalOptions, o.files, false)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			refs = append(refs, ref{obj.GetTypeMeta().Kind, obj.Meta().Namespace, obj.Meta().Name})
		}
	default:
		targets, err := parseTargets("delete", o.args, false)
		if err != nil {
			return err
		}
		for _, t := range targets {
			if t.name != "" {
				if o.all || o.selector != "" {
					return errors.New("name cannot be provided when a selector or --all is specified")
				}
				refs = append(refs, ref{t.typ.kind, o.namespace, t.name})
				continue
			}
			if !o.all && o.selector == "" {
				return fmt.Errorf("resource(s) were provided, but no name was specified: give NAME, -l SELECTOR or --all")
			}
			objs, err := c.List(ctx, t.typ.kind, o.namespace, o.selector)
			if err != nil {
				return err
			}
			for _, obj := range objs {
				refs = append(refs, ref{t.typ.kind, obj.Meta().Namespace, obj.Meta().Name})
			}
		}
		if len(refs) == 0 {
			fmt.Fprintf(o.errOut, "No resources found in %s namespace.\n", o.namespace)
			return nil
		}
	}

	if o.force && o.gracePeriod == 0 {
		fmt.Fprintln(o.errOut, "Warning: Immediate deletion does not wait for the pods' requests to finish or for them to exit; they are killed.")
	}
	var errs []error
	var deletedPods []ref
	for _, r := range refs {
		_, err := c.Delete(ctx, r.kind, r.ns, r.name, opts)
		if err != nil {
			if o.ignoreNotFound && isNotFound(err) {
				continue
			}
			errs = append(errs, err)
			continue
		}
		if r.kind == api.KindPod {
			deletedPods = append(deletedPods, r)
		}
		if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds == 0 {
			fmt.Fprintf(o.out, "%s %q force deleted\n", printer.Resource(r.kind), r.name)
			continue
		}
		fmt.Fprintf(o.out, "%s %q deleted\n", printer.Resource(r.kind), r.name)
	}
	// A pod drains and stops before it is gone; kubectl waits for that.
	// Workloads are gone from the store at once.
	if o.wait {
		for _, r := range deletedPods {
			for {
				_, err := c.Get(ctx, api.KindPod, r.ns, r.name)
				if err != nil {
					if !isNotFound(err) {
						errs = append(errs, err)
					}
					break
				}
				select {
				case <-ctx.Done():
					return errors.Join(append(errs, ctx.Err())...)
				case <-time.After(200 * time.Millisecond):
				}
			}
		}
	}
	return errors.Join(errs...)
}
