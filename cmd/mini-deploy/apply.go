package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/cmd/mini-deploy/internal/printer"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/client"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

// Dry-run modes of --dry-run.
const (
	dryRunNone   = "none"
	dryRunClient = "client"
	dryRunServer = "server"
)

type applyOptions struct {
	*globalOptions
	files  []string
	dryRun string
	record bool
	// namespaceSet says -n was given, so that a manifest naming another
	// namespace is an error rather than a surprise.
	namespaceSet bool
}

func newApplyCommand(g *globalOptions) *cobra.Command {
	o := &applyOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|- [-f ...]",
		Short: "Create or update objects from manifests, all or nothing",
		Long: `Create or update the objects of YAML or JSON manifests. Every document of every
file is checked first and the whole apply is one transaction: if anything is wrong,
nothing is stored.

Examples:
  mini-deploy apply -f examples/kubia/
  mini-deploy apply -f deployment.yaml --record
  cat rc.yaml | mini-deploy apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.namespaceSet = cmd.Flags().Changed("namespace")
			return runApply(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "manifest file, directory or - for stdin (repeatable)")
	f.StringVar(&o.dryRun, "dry-run", dryRunNone, `"client" checks the files only; "server" has the daemon validate without storing`)
	f.Lookup("dry-run").NoOptDefVal = dryRunClient
	f.BoolVar(&o.record, "record", false, "record the command line as the change-cause of Deployments")
	return cmd
}

func runApply(ctx context.Context, o *applyOptions) error {
	if len(o.files) == 0 {
		return errors.New(`must specify one of -f and -k`)
	}
	if o.dryRun != dryRunNone && o.dryRun != dryRunClient && o.dryRun != dryRunServer {
		return fmt.Errorf(`invalid dry-run value (%s). Must be "none", "server", or "client"`, o.dryRun)
	}
	objs, err := readManifests(o.globalOptions, o.files, o.namespaceSet)
	if err != nil {
		return err
	}
	c := o.client()
	defer c.Close()
	results, err := applyObjects(ctx, c, o.globalOptions, objs, o.dryRun, o.record)
	if err != nil {
		return err
	}
	printApplyResults(o.out, results, o.dryRun)
	return nil
}

// readManifests decodes the files (and stdin for "-") strictly, here,
// before the daemon sees anything, so that an error names the file and
// field; objects without a namespace get -n's.
func readManifests(g *globalOptions, files []string, namespaceSet bool) ([]api.Object, error) {
	var objs []api.Object
	var paths []string
	var errs []error
	flush := func() {
		if len(paths) == 0 {
			return
		}
		got, err := api.ReadManifests(paths)
		if err != nil {
			errs = append(errs, err)
		}
		objs = append(objs, got...)
		paths = nil
	}
	for _, f := range files {
		if f != "-" {
			paths = append(paths, f)
			continue
		}
		flush()
		data, err := io.ReadAll(g.in)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		got, err := api.DecodeManifests("<stdin>", data)
		if err != nil {
			errs = append(errs, err)
		}
		objs = append(objs, got...)
	}
	flush()
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(objs) == 0 {
		return nil, errors.New("no objects passed to apply")
	}
	for _, obj := range objs {
		m := obj.Meta()
		switch {
		case m.Namespace == "":
			m.Namespace = g.namespace
		case namespaceSet && m.Namespace != g.namespace:
			return nil, fmt.Errorf("the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation", m.Namespace, g.namespace, m.Namespace)
		}
	}
	// Validated here too, where each object still knows its file, so that
	// an invalid value is reported with the file and document it is in. The
	// daemon gets each manifest as written, before defaults: it merges an
	// apply by the fields the user set, as kubectl apply does.
	sent := make([]api.Object, len(objs))
	for i, obj := range objs {
		sent[i] = obj.DeepCopy()
		api.SetDefaults(obj)
	}
	if err := api.ValidateApply(objs); err != nil {
		return nil, err
	}
	return sent, nil
}

// applyObjects sends objs to the daemon. A client dry run asks the daemon
// for a dry run too, which stores nothing, so that it tells created,
// configured and unchanged apart as the real apply would; with no daemon
// running, every object would be created.
func applyObjects(ctx context.Context, c *client.Client, g *globalOptions, objs []api.Object, dryRun string, record bool) ([]server.ApplyResult, error) {
	if dryRun == dryRunClient {
		res, err := c.Apply(ctx, objs, server.ApplyOptions{DryRun: true})
		if err == nil || !errors.Is(err, client.ErrDaemonNotRunning) {
			return res, err
		}
		results := make([]server.ApplyResult, 0, len(objs))
		for _, obj := range objs {
			m := obj.Meta()
			results = append(results, server.ApplyResult{Kind: obj.GetTypeMeta().Kind, Namespace: m.Namespace, Name: m.Name, Action: "created"})
		}
		return results, nil
	}
	opts := server.ApplyOptions{DryRun: dryRun == dryRunServer}
	if record {
		opts.ChangeCause = g.commandLine
	}
	return c.Apply(ctx, objs, opts)
}

// printApplyResults prints kubectl's lines: deployment.apps/kubia configured.
func printApplyResults(w io.Writer, results []server.ApplyResult, dryRun string) {
	suffix := ""
	switch dryRun {
	case dryRunClient:
		suffix = " (dry run)"
	case dryRunServer:
		suffix = " (server dry run)"
	}
	for _, r := range results {
		fmt.Fprintf(w, "%s/%s %s%s\n", printer.Resource(r.Kind), r.Name, r.Action, suffix)
	}
}
