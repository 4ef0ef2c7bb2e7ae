package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// completionTimeout bounds the daemon call behind one Tab press.
const completionTimeout = 2 * time.Second

// Shell completion is cobra's (`mini-deploy completion bash|zsh|fish`),
// which completes verbs and flags by itself; what it needs from us is the
// arguments: resource types, and the names of the live objects, asked of
// the daemon when it runs.

// objectArgs are the verbs whose arguments are TYPE NAME or TYPE/NAME.
var objectArgs = [][]string{
	{"get"}, {"describe"}, {"delete"}, {"scale"}, {"label"}, {"annotate"}, {"edit"}, {"wait"},
	{"patch"}, {"port-forward"}, {"expose"},
	{"set", "image"}, {"set", "env"}, {"set", "resources"}, {"set", "selector"},
	{"rollout", "status"}, {"rollout", "history"}, {"rollout", "undo"}, {"rollout", "pause"},
	{"rollout", "resume"}, {"rollout", "restart"}, {"rollout", "plan"},
}

// podArgs are the verbs whose first argument is a pod's name.
var podArgs = [][]string{{"logs"}, {"exec"}, {"top", "pods"}}

// addCompletion gives the verbs above their argument completion.
func addCompletion(root *cobra.Command, g *globalOptions) {
	for _, path := range objectArgs {
		if c, _, err := root.Find(path); err == nil && c.Name() == path[len(path)-1] {
			c.ValidArgsFunction = completeObjects(g)
		}
	}
	for _, path := range podArgs {
		if c, _, err := root.Find(path); err == nil && c.Name() == path[len(path)-1] {
			c.ValidArgsFunction = completePods(g)
		}
	}
}

// completeObjects completes a type, then names: after TYPE the names of
// its objects, and TYPE/ followed by a name in one word.
func completeObjects(g *globalOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if typ, prefix, ok := strings.Cut(toComplete, "/"); ok {
			rt, found := lookupType(typ)
			if !found {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []string
			for _, n := range liveNames(cmd.Context(), g, rt.kind, prefix) {
				out = append(out, typ+"/"+n)
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		if len(args) == 0 {
			var out []string
			if cmd.Name() == "get" {
				out = append(out, "all")
			}
			for _, rt := range resourceTypes {
				if strings.HasPrefix(rt.plural, toComplete) {
					out = append(out, rt.plural)
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		if strings.Contains(args[0], "/") {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		rt, found := lookupType(args[0])
		if !found {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return liveNames(cmd.Context(), g, rt.kind, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completePods completes the first argument with pod names.
func completePods(g *globalOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return liveNames(cmd.Context(), g, api.KindPod, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// liveNames lists the names of the objects of kind starting with prefix;
// nothing when no daemon answers in time.
func liveNames(ctx context.Context, g *globalOptions, kind, prefix string) []string {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	c := g.client()
	defer c.Close()
	objs, err := c.List(ctx, kind, g.namespace, "")
	if err != nil {
		return nil
	}
	var out []string
	for _, obj := range objs {
		if n := obj.Meta().Name; strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}
