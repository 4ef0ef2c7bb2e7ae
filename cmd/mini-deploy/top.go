package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

func newTopCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top pods",
		Short: "Show the CPU and memory use of pods, from the engine's stats",
	}
	cmd.AddCommand(newTopPodsCommand(g))
	return cmd
}

type topPodsOptions struct {
	*globalOptions
	args          []string
	selector      string
	allNamespaces bool
	sortBy        string
	noHeaders     bool
}

func newTopPodsCommand(g *globalOptions) *cobra.Command {
	o := &topPodsOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:     "pods [NAME]",
		Aliases: []string{"pod", "po"},
		Short:   "Show the CPU (in millicores) and memory (working set) of running pods",
		Long: `Show the CPU and memory use of running pods, as kubectl top pods does: CPU in
thousandths of a core over the last second, memory as the working set (in use,
less the file cache the kernel can take back), both sampled by the engine.

Examples:
  mini-deploy top pods
  mini-deploy top pods -l app=kubia --sort-by=memory`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runTopPods(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.selector, "selector", "l", "", "label selector of the pods")
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "pods of every namespace")
	f.StringVar(&o.sortBy, "sort-by", "", "cpu or memory: the biggest first")
	f.BoolVar(&o.noHeaders, "no-headers", false, "leave out the header row")
	return cmd
}

func runTopPods(ctx context.Context, o *topPodsOptions) error {
	if o.sortBy != "" && o.sortBy != "cpu" && o.sortBy != "memory" {
		return fmt.Errorf("--sort-by accepts only cpu or memory, not %q", o.sortBy)
	}
	if len(o.args) > 0 && o.selector != "" {
		return errors.New("only one of NAME or --selector can be provided")
	}
	ns := o.namespace
	if o.allNamespaces {
		ns = ""
	}
	c := o.client()
	defer c.Close()
	items, err := c.TopPods(ctx, ns, o.selector)
	if err != nil {
		return err
	}
	if len(o.args) > 0 {
		items = slices.DeleteFunc(items, func(m server.PodMetrics) bool { return m.Name != o.args[0] })
		if len(items) == 0 {
			return fmt.Errorf("podmetrics.metrics.k8s.io %q not found", o.namespace+"/"+o.args[0])
		}
	}
	if len(items) == 0 {
		if ns == "" {
			fmt.Fprintln(o.errOut, "No resources found")
		} else {
			fmt.Fprintf(o.errOut, "No resources found in %s namespace.\n", ns)
		}
		return nil
	}
	slices.SortFunc(items, func(a, b server.PodMetrics) int {
		switch o.sortBy {
		case "cpu":
			return cmp.Compare(b.CPUMilli, a.CPUMilli)
		case "memory":
			return cmp.Compare(b.MemoryBytes, a.MemoryBytes)
		}
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	tw := tabwriter.NewWriter(o.out, 0, 8, 3, ' ', 0)
	if !o.noHeaders {
		if o.allNamespaces {
			fmt.Fprint(tw, "NAMESPACE\t")
		}
		fmt.Fprintln(tw, "NAME\tCPU(cores)\tMEMORY(bytes)")
	}
	for _, m := range items {
		if o.allNamespaces {
			fmt.Fprintf(tw, "%s\t", m.Namespace)
		}
		fmt.Fprintf(tw, "%s\t%dm\t%dMi\n", m.Name, m.CPUMilli, m.MemoryBytes>>20)
	}
	return tw.Flush()
}
