package main

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/docker/client"
	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/export"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

type exportOptions struct {
	*globalOptions
	files        []string
	namespaceSet bool
}

func newExportCommand(g *globalOptions) *cobra.Command {
	o := &exportOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "export [-f FILE|DIR|- ...]",
		Short: "Print manifests that run on a Kubernetes cluster as they run here",
		Long: `Print the manifests of files (-f) or, without -f, of everything the daemon holds
in the namespace, for a Kubernetes cluster: mini-deploy's implicit TCP readiness check
becomes an explicit tcpSocket readinessProbe, mini-deploy's own annotations are kept and
explained, server-set fields are dropped, and an image that exists only on this engine
is named with a warning (a cluster must be able to pull it). Notes go first, as comments.

Examples:
  mini-deploy export -f examples/kubia/ > cluster.yaml
  mini-deploy export | kubectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.namespaceSet = cmd.Flags().Changed("namespace")
			return runExport(cmd.Context(), o)
		},
	}
	cmd.Flags().StringArrayVarP(&o.files, "filename", "f", nil, "manifest file, directory or - for stdin (repeatable)")
	return cmd
}

func runExport(ctx context.Context, o *exportOptions) error {
	var objs []api.Object
	if len(o.files) > 0 {
		read, err := readManifests(o.globalOptions, o.files, o.namespaceSet)
		if err != nil {
			return err
		}
		for _, obj := range read {
			// A file without a namespace stays without one, so that
			// `kubectl apply -n` can place it.
			if !o.namespaceSet && obj.Meta().Namespace == api.DefaultNamespace {
				obj.Meta().Namespace = ""
			}
		}
		objs = read
	} else {
		c := o.client()
		defer c.Close()
		for _, k := range api.Kinds(api.Manifest) {
			got, err := c.List(ctx, k.Kind, o.namespace, "")
			if err != nil {
				return fmt.Errorf("list %s: %w (is the daemon running? `mini-deploy up`, or export files with -f)", k.Plural, err)
			}
			objs = append(objs, got...)
		}
	}
	res, err := export.Manifests(objs, export.Options{LocalOnly: localOnlyImages(ctx, o)})
	if err != nil {
		return err
	}
	out, err := res.YAML()
	if err != nil {
		return err
	}
	_, err = o.out.Write(out)
	return err
}

// localOnlyImages asks the engine which images it has without a registry
// digest: built here, never pulled, so no cluster node can pull them as they
// are named. Without an engine it checks nothing and says so.
func localOnlyImages(ctx context.Context, o *exportOptions) func(string) bool {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err = cli.Ping(pctx)
		cancel()
	}
	if err != nil {
		fmt.Fprintf(o.errOut, "warning: no Docker engine answered (%v); images were not checked: a cluster must be able to pull every image\n", err)
		return nil
	}
	return func(ref string) bool {
		img, err := cli.ImageInspect(ctx, ref)
		return err == nil && len(img.RepoDigests) == 0
	}
}
