package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

func newAPIResourcesCommand(g *globalOptions) *cobra.Command {
	var output string
	var noHeaders bool
	cmd := &cobra.Command{
		Use:   "api-resources",
		Short: "List the resource types mini-deploy serves, with their short names",
		Long: `List the resource types, as kubectl api-resources does: name, short names,
API version, whether namespaced, kind. -o name prints the names only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch output {
			case "", "wide", "name":
			default:
				return fmt.Errorf("--output %v is not available", output)
			}
			tw := tabwriter.NewWriter(g.out, 0, 8, 3, ' ', 0)
			if output != "name" && !noHeaders {
				fmt.Fprintln(tw, "NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND")
			}
			kinds := api.Kinds(api.Served)
			// kubectl's order: the core group first, then by group, by name.
			slices.SortStableFunc(kinds, func(a, b api.KindInfo) int {
				return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Plural, b.Plural))
			})
			for _, k := range kinds {
				if output == "name" {
					name := k.Plural
					if k.Group != "" {
						name += "." + k.Group
					}
					fmt.Fprintln(tw, name)
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", k.Plural, strings.Join(k.ShortNames, ","), k.APIVersion, k.Namespaced, k.Kind)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "name: the resource names only")
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "leave out the header row")
	return cmd
}
