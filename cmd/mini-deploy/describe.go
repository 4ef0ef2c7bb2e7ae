package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/cmd/mini-deploy/internal/printer"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/client"
)

type describeOptions struct {
	*globalOptions
	args     []string
	selector string
}

func newDescribeCommand(g *globalOptions) *cobra.Command {
	o := &describeOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "describe TYPE [NAME...] | TYPE/NAME...",
		Short: "Show an object in detail, with its events",
		Long: `Show objects in detail, with their events, as kubectl describe does.

Examples:
  mini-deploy describe deploy kubia
  mini-deploy describe svc/kubia
  mini-deploy describe pods -l app=kubia`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runDescribe(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVarP(&o.selector, "selector", "l", "", "label selector")
	return cmd
}

func runDescribe(ctx context.Context, o *describeOptions) error {
	targets, err := parseTargets("describe", o.args, false)
	if err != nil {
		return err
	}
	c := o.client()
	defer c.Close()
	info, _ := c.Info(ctx)
	p := printer.New(o.out, printer.Options{Address: info.Address})
	var objs []api.Object
	var errs []error
	for _, t := range targets {
		if t.name != "" {
			obj, err := c.Get(ctx, t.typ.kind, o.namespace, t.name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			objs = append(objs, obj)
			continue
		}
		list, err := c.List(ctx, t.typ.kind, o.namespace, o.selector)
		if err != nil {
			return err
		}
		objs = append(objs, list...)
	}
	if len(objs) == 0 && len(errs) == 0 {
		fmt.Fprintf(o.errOut, "No resources found in %s namespace.\n", o.namespace)
		return nil
	}
	for i, obj := range objs {
		if i > 0 {
			fmt.Fprintln(o.out)
		}
		if err := describe(ctx, c, p, obj); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// describe gathers what the describe of obj shows besides obj itself: its
// events, its pods, its ReplicaSets, its endpoints.
func describe(ctx context.Context, c *client.Client, p *printer.Printer, obj api.Object) error {
	m := obj.Meta()
	kind := obj.GetTypeMeta().Kind
	events, err := c.Events(ctx, m.Namespace, &api.ObjectReference{Kind: kind, Name: m.Name, Namespace: m.Namespace, UID: m.UID})
	if err != nil {
		return err
	}
	switch o := obj.(type) {
	case *api.Pod:
		return p.DescribePod(o, events)
	case *api.ReplicationController:
		pods, err := podsOf(ctx, c, o)
		if err != nil {
			return err
		}
		return p.DescribeReplicationController(o, pods, events)
	case *api.ReplicaSet:
		pods, err := podsOf(ctx, c, o)
		if err != nil {
			return err
		}
		return p.DescribeReplicaSet(o, pods, events)
	case *api.Deployment:
		old, cur, err := replicaSetsOf(ctx, c, o)
		if err != nil {
			return err
		}
		return p.DescribeDeployment(o, old, cur, events)
	case *api.Service:
		ep, err := c.Get(ctx, api.KindEndpoints, m.Namespace, m.Name)
		if err != nil && !isNotFound(err) {
			return err
		}
		eps, _ := ep.(*api.Endpoints)
		return p.DescribeService(o, eps, events)
	case *api.RollingUpdate:
		return p.DescribeRollingUpdate(o)
	}
	return p.DescribeObject(obj)
}

// replicaSetsOf splits a Deployment's ReplicaSets into the old ones and the
// one whose revision is the Deployment's current one.
func replicaSetsOf(ctx context.Context, c *client.Client, d *api.Deployment) (old []*api.ReplicaSet, cur *api.ReplicaSet, err error) {
	sel, ok := workloadSelector(d)
	if !ok {
		return nil, nil, nil
	}
	objs, err := c.List(ctx, api.KindReplicaSet, d.Namespace, sel)
	if err != nil {
		return nil, nil, err
	}
	revision := d.Annotations[api.AnnotationRevision]
	for _, obj := range objs {
		rs, ok := obj.(*api.ReplicaSet)
		if !ok || !ownedBy(&rs.ObjectMeta, d) {
			continue
		}
		if cur == nil && revision != "" && rs.Annotations[api.AnnotationRevision] == revision {
			cur = rs
			continue
		}
		old = append(old, rs)
	}
	return old, cur, nil
}

func ownedBy(m *api.ObjectMeta, d *api.Deployment) bool {
	if len(m.OwnerReferences) == 0 {
		return true
	}
	for _, o := range m.OwnerReferences {
		if o.Kind == api.KindDeployment && o.Name == d.Name {
			return true
		}
	}
	return false
}
