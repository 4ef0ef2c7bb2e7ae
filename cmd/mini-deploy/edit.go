package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/cmd/mini-deploy/internal/printer"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// editHeader opens the file `edit` hands to the editor, kubectl's words.
const editHeader = `# Please edit the object below. Lines beginning with a '#' will be ignored,
# and an empty file will abort the edit. If an error occurs while saving this file will be
# reopened with the relevant failures.
#
`

type editOptions struct {
	*globalOptions
	args []string
}

func newEditCommand(g *globalOptions) *cobra.Command {
	o := &editOptions{globalOptions: g}
	return &cobra.Command{
		Use:   "edit TYPE/NAME | TYPE NAME",
		Short: "Edit an object's YAML in your editor and store it on save",
		Long: `Open an object's YAML in $KUBE_EDITOR, else $EDITOR, else vi. On save the
object is stored as edited (spec, labels, annotations); if that fails the file
opens again with the error on top, until it is valid or left unchanged. A file
saved unchanged, or emptied, changes nothing. If the object changed since it
was opened, the save is refused as a conflict.

Examples:
  mini-deploy edit deployment/kubia
  KUBE_EDITOR=nano mini-deploy edit svc kubia`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runEdit(cmd.Context(), o)
		},
	}
}

func runEdit(ctx context.Context, o *editOptions) error {
	t, rest, err := parseOne("edit", o.args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(rest, " "))
	}
	c := o.client()
	defer c.Close()
	obj, err := c.Get(ctx, t.typ.kind, o.namespace, t.name)
	if err != nil {
		return err
	}
	original, err := api.ToYAML(obj)
	if err != nil {
		return err
	}
	file, err := os.CreateTemp("", "mini-deploy-edit-*.yaml")
	if err != nil {
		return err
	}
	file.Close()
	defer os.Remove(file.Name())

	name := printer.Resource(t.typ.kind) + "/" + t.name
	body := original // what the user sees under the comments
	var problem string
	var lastFailed []byte
	for {
		text := editHeader
		if problem != "" {
			text += "# " + strings.ReplaceAll(problem, "\n", "\n# ") + "\n#\n"
		}
		if err := os.WriteFile(file.Name(), append([]byte(text), body...), 0o600); err != nil {
			return err
		}
		if err := o.runEditor(ctx, file.Name()); err != nil {
			return err
		}
		data, err := os.ReadFile(file.Name())
		if err != nil {
			return err
		}
		edited := stripComments(data)
		if len(bytes.TrimSpace(edited)) == 0 || (problem == "" && bytes.Equal(edited, stripComments(original))) {
			fmt.Fprintln(o.out, "Edit cancelled, no changes made.")
			return nil
		}
		if lastFailed != nil && bytes.Equal(edited, lastFailed) {
			return errors.New("Edit cancelled, no valid changes were saved.")
		}
		err = saveEdited(ctx, o, t, edited)
		if err == nil {
			fmt.Fprintf(o.out, "%s edited\n", name)
			return nil
		}
		problem = fmt.Sprintf("%s %q was not valid:\n* %s", printer.Resource(t.typ.kind), t.name, strings.ReplaceAll(err.Error(), "\n", "\n* "))
		body, lastFailed = edited, edited
	}
}

// saveEdited decodes the edited YAML strictly and stores it; the object
// must still be the one opened.
func saveEdited(ctx context.Context, o *editOptions, t target, edited []byte) error {
	objs, err := api.DecodeManifests("edited file", edited)
	if err != nil {
		return err
	}
	if len(objs) != 1 {
		return fmt.Errorf("the edited file holds %d objects; keep exactly the one opened", len(objs))
	}
	obj := objs[0]
	m := obj.Meta()
	m.ResourceVersion = resourceVersionsIn(edited)[obj.GetTypeMeta().Kind+"/"+m.Name]
	if m.Namespace == "" {
		m.Namespace = o.namespace
	}
	if obj.GetTypeMeta().Kind != t.typ.kind || m.Name != t.name || m.Namespace != o.namespace {
		return errors.New("at least one of apiVersion, kind and name was changed")
	}
	c := o.client()
	defer c.Close()
	_, err = c.Update(ctx, obj)
	return err
}

// runEditor opens path in the user's editor, which may be a command with
// arguments ("code --wait"), run by the shell as kubectl does.
func (o *editOptions) runEditor(ctx context.Context, path string) error {
	editor := os.Getenv("KUBE_EDITOR")
	if editor == "" {
		editor = os.Getenv("EDITOR")
	}
	if editor == "" {
		editor = "vi"
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", editor+` "$1"`, "sh", path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.in, o.out, o.errOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("there was a problem with the editor %q: %w", editor, err)
	}
	return nil
}

// stripComments drops the lines starting with '#'.
func stripComments(data []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out.Write(line)
		}
	}
	return out.Bytes()
}
