package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

type versionOptions struct {
	*globalOptions
	clientOnly bool
}

func newVersionCommand(g *globalOptions) *cobra.Command {
	o := &versionOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client's version and the daemon's",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVersion(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.clientOnly, "client", false, "print the client's version only")
	return cmd
}

func runVersion(ctx context.Context, o *versionOptions) error {
	fmt.Fprintf(o.out, "Client Version: %s\n", version)
	if o.clientOnly {
		return nil
	}
	c := o.client()
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.out, "Server Version: %s\n", info.Version)
	fmt.Fprintf(o.out, "Daemon: pid %d, state directory %s, started %s\n", info.PID, info.Home, info.StartedAt.Local().Format(time.RFC3339))
	for _, dp := range info.DataPlanes {
		fmt.Fprintf(o.out, "Data plane: pid %d, version %s\n", dp.PID, dp.Version)
	}
	fmt.Fprintf(o.out, "Services listen on: %s\n", info.Address)
	if info.MetricsURL != "" {
		fmt.Fprintf(o.out, "Metrics: %s\n", info.MetricsURL)
	}
	if info.Network != "" {
		fmt.Fprintf(o.out, "Pod network: %s\n", info.Network)
	}
	return nil
}
