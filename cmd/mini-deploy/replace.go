package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/mini-deploy/mini-deploy/cmd/mini-deploy/internal/printer"
)

type replaceOptions struct {
	*globalOptions
	files        []string
	namespaceSet bool
}

func newReplaceCommand(g *globalOptions) *cobra.Command {
	o := &replaceOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "replace -f FILE|DIR|-",
		Short: "Replace objects by the manifests: what the file leaves out is gone",
		Long: `Replace each object by its manifest. Unlike apply, nothing is merged: a field
the file leaves out takes its default, whoever set it. Every object must exist. A
resourceVersion in the file must still be the stored one.

Examples:
  mini-deploy get deploy kubia -o yaml > kubia.yaml; (edit it); mini-deploy replace -f kubia.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.namespaceSet = cmd.Flags().Changed("namespace")
			return runReplace(cmd.Context(), o)
		},
	}
	cmd.Flags().StringArrayVarP(&o.files, "filename", "f", nil, "manifest file, directory or - for stdin (repeatable)")
	return cmd
}

func runReplace(ctx context.Context, o *replaceOptions) error {
	if len(o.files) == 0 {
		return errors.New("must specify --filename to replace")
	}
	files, cleanup, err := stdinToFile(o.globalOptions, o.files)
	if err != nil {
		return err
	}
	defer cleanup()
	objs, err := readManifests(o.globalOptions, files, o.namespaceSet)
	if err != nil {
		return err
	}
	versions := manifestVersions(files)
	c := o.client()
	defer c.Close()
	var errs []error
	for _, obj := range objs {
		obj.Meta().ResourceVersion = versions[obj.GetTypeMeta().Kind+"/"+obj.Meta().Name]
		if _, err := c.Update(ctx, obj); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(o.out, "%s replaced\n", printer.Name(obj))
	}
	return errors.Join(errs...)
}

// resourceVersionsIn reads the metadata.resourceVersion of each document
// of a manifest, by kind/name: decoding drops what the server sets, but
// replace and edit pass a resourceVersion on as a precondition.
func resourceVersionsIn(data []byte) map[string]string {
	out := map[string]string{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name            string `yaml:"name"`
				ResourceVersion string `yaml:"resourceVersion"`
			} `yaml:"metadata"`
		}
		if err := dec.Decode(&doc); err != nil {
			return out
		}
		if doc.Metadata.ResourceVersion != "" {
			out[doc.Kind+"/"+doc.Metadata.Name] = doc.Metadata.ResourceVersion
		}
	}
}

// manifestVersions is resourceVersionsIn over the files of -f (stdin was
// saved to a file first), directories read as apply reads them.
func manifestVersions(paths []string) map[string]string {
	out := map[string]string{}
	for _, p := range paths {
		files := []string{p}
		if info, err := os.Stat(p); err == nil && info.IsDir() {
			files = nil
			entries, _ := os.ReadDir(p)
			for _, e := range entries {
				switch strings.ToLower(filepath.Ext(e.Name())) {
				case ".yaml", ".yml", ".json":
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
		}
		for _, f := range files {
			if data, err := os.ReadFile(f); err == nil {
				maps.Copy(out, resourceVersionsIn(data))
			}
		}
	}
	return out
}

// stdinToFile saves stdin to a file when "-" is among files, so that it can
// be read twice, and returns the files with its path for "-".
func stdinToFile(g *globalOptions, files []string) ([]string, func(), error) {
	if !slices.Contains(files, "-") {
		return files, func() {}, nil
	}
	data, err := io.ReadAll(g.in)
	if err != nil {
		return nil, nil, fmt.Errorf("read stdin: %w", err)
	}
	f, err := os.CreateTemp("", "mini-deploy-stdin-*.yaml")
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return nil, nil, err
	}
	out := slices.Clone(files)
	for i, p := range out {
		if p == "-" {
			out[i] = f.Name()
		}
	}
	return out, func() { os.Remove(f.Name()) }, nil
}
