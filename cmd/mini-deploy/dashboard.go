package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	goruntime "runtime"
	"time"

	"github.com/spf13/cobra"
)

type dashboardOptions struct {
	*globalOptions
	open bool
}

func newDashboardCommand(g *globalOptions) *cobra.Command {
	o := &dashboardOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Print the URL of the daemon's web dashboard",
		Long: `Print the URL of the web page the daemon serves on 127.0.0.1: Deployments,
ReplicaSets, pods, Services and their live traffic by revision, with the
actions the CLI has. The URL carries a token (kept in <home>/dashboard-token);
without it the page answers 401. The daemon's --dashboard-address moves it.`,
		Example: `  mini-deploy dashboard
  mini-deploy dashboard --open`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDashboard(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.open, "open", false, "open the URL in a browser too")
	return cmd
}

func runDashboard(ctx context.Context, o *dashboardOptions) error {
	c := o.client()
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	if info.Dashboard == "" {
		return errors.New("the daemon serves no dashboard: it was started with --dashboard-address=\"\"; restart it (mini-deploy down, then up) without that flag")
	}
	fmt.Fprintln(o.out, info.Dashboard)
	if o.open {
		if err := openBrowser(info.Dashboard); err != nil {
			return fmt.Errorf("open a browser: %w (open the URL above by hand)", err)
		}
	}
	return nil
}

func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch goruntime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	return cmd.Start()
}
