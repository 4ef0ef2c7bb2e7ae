package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

// diffProgramEnv names the program `diff` runs instead of `diff -u -N`,
// kubectl's variable, so that habits (KUBECTL_EXTERNAL_DIFF="colordiff -N -u")
// carry over.
const diffProgramEnv = "KUBECTL_EXTERNAL_DIFF"

type diffOptions struct {
	*globalOptions
	files        []string
	namespaceSet bool
}

func newDiffCommand(g *globalOptions) *cobra.Command {
	o := &diffOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "diff -f FILE|DIR|-",
		Short: "Show what an apply of the manifests would change, changing nothing",
		Long: `Show what "apply -f" would change, as a unified diff of each live object
against the object the apply would make (the daemon merges, as for a real apply,
and stores nothing). Like kubectl, it writes the objects as YAML into two
directories, LIVE-* and MERGED-*, and runs "diff -u -N" on them, or the program
in $KUBECTL_EXTERNAL_DIFF.

Exit status: 0 no differences, 1 differences, more than 1 an error.

Examples:
  mini-deploy diff -f examples/kubia/
  sed 's/:v1/:v2/' deployment.yaml | mini-deploy diff -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.namespaceSet = cmd.Flags().Changed("namespace")
			err := runDiff(cmd.Context(), o)
			var ee *exitError
			if err != nil && !errors.As(err, &ee) {
				// kubectl's code for an error is 2: 1 means "differences".
				fmt.Fprintln(o.errOut, "error: "+err.Error())
				return &exitError{msg: err.Error(), code: 2}
			}
			return err
		},
	}
	cmd.Flags().StringArrayVarP(&o.files, "filename", "f", nil, "manifest file, directory or - for stdin (repeatable)")
	return cmd
}

func runDiff(ctx context.Context, o *diffOptions) error {
	if len(o.files) == 0 {
		return errors.New("must specify one of -f and -k")
	}
	objs, err := readManifests(o.globalOptions, o.files, o.namespaceSet)
	if err != nil {
		return err
	}
	c := o.client()
	defer c.Close()
	results, err := c.Diff(ctx, objs)
	if err != nil {
		return err
	}
	live, err := os.MkdirTemp("", "LIVE-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(live)
	merged, err := os.MkdirTemp("", "MERGED-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(merged)
	for _, r := range results {
		if err := writeDiffSide(live, r, r.Live); err != nil {
			return err
		}
		if err := writeDiffSide(merged, r, r.Merged); err != nil {
			return err
		}
	}
	return runDiffProgram(ctx, o.globalOptions, live, merged)
}

// writeDiffSide writes one object as YAML into dir, under kubectl's name
// for it: apps.v1.Deployment.default.kubia. An absent object is no file.
func writeDiffSide(dir string, r server.DiffResult, raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("diff %s %q: %w", r.Kind, r.Name, err)
	}
	b, err := api.ToYAML(doc)
	if err != nil {
		return err
	}
	gv := "v1"
	if info, ok := api.InfoOf(r.Kind); ok && info.Group != "" {
		gv = info.Group + ".v1"
	}
	name := strings.Join([]string{gv, r.Kind, r.Namespace, r.Name}, ".")
	return os.WriteFile(filepath.Join(dir, name), b, 0o600)
}

// runDiffProgram runs diff on the two directories, its output going to the
// user, and turns its exit status into ours.
func runDiffProgram(ctx context.Context, g *globalOptions, live, merged string) error {
	argv := []string{"diff", "-u", "-N"}
	if prog := strings.Fields(os.Getenv(diffProgramEnv)); len(prog) > 0 {
		argv = prog
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fmt.Errorf("%s: not found: install it (diffutils) or name another program in $%s", argv[0], diffProgramEnv)
	}
	var errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, path, append(argv[1:], live, merged)...)
	cmd.Stdout, cmd.Stderr = g.out, &errOut
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return &exitError{msg: "differences found", code: 1}
	case errors.As(err, &exit):
		return fmt.Errorf("%s exited with %d: %s", argv[0], exit.ExitCode(), strings.TrimSpace(errOut.String()))
	}
	return fmt.Errorf("run %s: %w", argv[0], err)
}
