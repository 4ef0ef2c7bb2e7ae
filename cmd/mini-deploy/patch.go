package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/cmd/mini-deploy/internal/printer"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Patch types, kubectl's --type values.
const (
	patchStrategic = "strategic"
	patchMerge     = "merge"
	patchJSON      = "json"
)

type patchOptions struct {
	*globalOptions
	args      []string
	patch     string
	patchType string
}

func newPatchCommand(g *globalOptions) *cobra.Command {
	o := &patchOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "patch (TYPE NAME | TYPE/NAME) -p PATCH [--type strategic|merge|json]",
		Short: "Change fields of an object with a strategic merge, JSON merge or JSON patch",
		Long: `Change fields of an object in place. PATCH is JSON or YAML.

  strategic (the default)  a JSON merge patch in which the lists Kubernetes merges
                           by key are merged by it: containers and env by name,
                           container ports by containerPort, Service ports by port
  merge                    RFC 7386: maps merge, lists are replaced, null removes
  json                     RFC 6902: a list of add, remove, replace, move, copy, test

Examples:
  mini-deploy patch deployment kubia -p '{"spec":{"replicas":2}}'
  mini-deploy patch deploy/kubia -p '{"spec":{"template":{"spec":{"containers":[{"name":"nodejs","image":"luksa/kubia:v2"}]}}}}'
  mini-deploy patch svc kubia --type=json -p '[{"op":"replace","path":"/spec/ports/0/nodePort","value":30080}]'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runPatch(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVarP(&o.patch, "patch", "p", "", "the patch (required)")
	cmd.Flags().StringVar(&o.patchType, "type", patchStrategic, "strategic, merge or json")
	return cmd
}

func runPatch(ctx context.Context, o *patchOptions) error {
	if o.patch == "" {
		return errors.New("must specify -p to patch")
	}
	if o.patchType != patchStrategic && o.patchType != patchMerge && o.patchType != patchJSON {
		return fmt.Errorf("--type must be one of [json merge strategic], not %q", o.patchType)
	}
	var patch any
	if err := yamlOrJSON([]byte(o.patch), &patch); err != nil {
		return fmt.Errorf("unable to parse %q: %w", o.patch, err)
	}
	t, rest, err := parseOne("patch", o.args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(rest, " "))
	}
	c := o.client()
	defer c.Close()
	msg, err := updateObject(ctx, c, t.typ.kind, o.namespace, t.name, "", func(obj api.Object) (string, error) {
		doc, err := api.Generic(obj)
		if err != nil {
			return "", err
		}
		var next any
		switch o.patchType {
		case patchJSON:
			next, err = jsonPatch(doc, patch)
		case patchMerge:
			next = mergePatch(doc, patch, nil)
		default:
			next = mergePatch(doc, patch, strategicKeys)
		}
		if err != nil {
			return "", err
		}
		if reflect.DeepEqual(doc, next) {
			return "patched (no change)", nil
		}
		raw, err := json.Marshal(next)
		if err != nil {
			return "", err
		}
		// Strictly, as a manifest: a misspelt field in the patch is an error.
		objs, err := api.DecodeManifests("the patched object", raw)
		if err != nil {
			return "", err
		}
		if len(objs) != 1 {
			return "", errors.New("the patch does not leave one object")
		}
		patched := objs[0]
		if pm := patched.Meta(); pm.Name != obj.Meta().Name || pm.Namespace != obj.Meta().Namespace || patched.GetTypeMeta().Kind != obj.GetTypeMeta().Kind {
			return "", errors.New("a patch cannot change the object's kind, name or namespace")
		}
		reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(patched).Elem())
		return "patched", nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.out, "%s/%s %s\n", printer.Resource(t.typ.kind), t.name, msg)
	return nil
}
