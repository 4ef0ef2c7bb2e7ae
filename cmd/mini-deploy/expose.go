package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

type exposeOptions struct {
	generateOptions
	args       []string
	port       int32
	targetPort string
	svcType    string
	name       string
	nodePort   int32
}

func newExposeCommand(g *globalOptions) *cobra.Command {
	o := &exposeOptions{generateOptions: generateOptions{globalOptions: g}}
	cmd := &cobra.Command{
		Use:   "expose (TYPE NAME | TYPE/NAME) [--port=PORT] [--target-port=PORT] [--type=NodePort] [--name=NAME]",
		Short: "Make a Service for the pods of a Deployment, ReplicaSet, ReplicationController or Service",
		Long: `Create a Service whose selector is the workload's (or the Service's), on
--port, forwarding to --target-port (default: the same; without --port, the first
container port of the template).

Examples:
  mini-deploy expose deployment kubia --port=80 --target-port=8080 --type=NodePort
  mini-deploy expose rc/kubia-v1 --port=80 --target-port=8080 --name=kubia-http`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runExpose(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.Int32Var(&o.port, "port", -1, "the port the Service serves on")
	f.StringVar(&o.targetPort, "target-port", "", "the container port (a number or a port name) the Service forwards to")
	f.StringVar(&o.svcType, "type", "", "ClusterIP (the default), NodePort or LoadBalancer; all three listen on a node port here")
	f.StringVar(&o.name, "name", "", "the Service's name (default: the object's)")
	f.Int32Var(&o.nodePort, "node-port", 0, "the node port (default: allocated from 30000-32767)")
	o.register(cmd)
	return cmd
}

func runExpose(ctx context.Context, o *exposeOptions) error {
	t, rest, err := parseOne("expose", o.args, api.KindDeployment, api.KindReplicaSet, api.KindReplicationController, api.KindService)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments: %v", rest)
	}
	c := o.client()
	defer c.Close()
	obj, err := c.Get(ctx, t.typ.kind, o.namespace, t.name)
	if err != nil {
		return err
	}
	var selector map[string]string
	var tmpl *api.PodTemplateSpec
	switch v := obj.(type) {
	case *api.Deployment:
		if len(v.Spec.Selector.MatchExpressions) > 0 {
			return fmt.Errorf("couldn't convert expressions - \"%s\" to map-based selector format", t.name)
		}
		selector, tmpl = v.Spec.Selector.MatchLabels, &v.Spec.Template
	case *api.ReplicaSet:
		if len(v.Spec.Selector.MatchExpressions) > 0 {
			return fmt.Errorf("couldn't convert expressions - \"%s\" to map-based selector format", t.name)
		}
		selector, tmpl = v.Spec.Selector.MatchLabels, &v.Spec.Template
	case *api.ReplicationController:
		selector, tmpl = v.Spec.Selector, v.Spec.Template
		if len(selector) == 0 && tmpl != nil {
			selector = tmpl.Labels
		}
	case *api.Service:
		selector = v.Spec.Selector
	}
	if len(selector) == 0 {
		return fmt.Errorf("couldn't retrieve selectors via --selector flag or introspection: %s %q has none", t.typ.plural, t.name)
	}
	port := o.port
	if port < 0 && tmpl != nil {
		for _, c := range tmpl.Spec.Containers {
			if len(c.Ports) > 0 {
				port = c.Ports[0].ContainerPort
				break
			}
		}
	}
	if port < 0 {
		return errors.New("couldn't find port via --port flag or introspection")
	}
	sp := api.ServicePort{Port: port, NodePort: o.nodePort}
	switch {
	case o.targetPort != "":
		if n, err := strconv.Atoi(o.targetPort); err == nil {
			sp.TargetPort = api.FromInt(n)
		} else {
			sp.TargetPort = api.FromString(o.targetPort)
		}
	default:
		sp.TargetPort = api.FromInt(int(port))
	}
	name := o.name
	if name == "" {
		name = t.name
	}
	svc := &api.Service{
		TypeMeta:   api.TypeMeta{APIVersion: "v1", Kind: api.KindService},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: o.namespace, Labels: maps.Clone(obj.Meta().Labels)},
		Spec:       api.ServiceSpec{Type: o.svcType, Selector: maps.Clone(selector), Ports: []api.ServicePort{sp}},
	}
	return o.create(ctx, []api.Object{svc}, "exposed")
}
