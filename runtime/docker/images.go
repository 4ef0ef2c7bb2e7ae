package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"

	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// ImageExists reports whether ref is present on the engine.
func (e *Engine) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := e.cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	}
	return false, mapErr(err)
}

// BuildImage sends opts.Dir as the build context and waits for the build to
// finish. The engine reports a failed step inside the stream, not in the
// HTTP status, so the stream is read to its end.
func (e *Engine) BuildImage(ctx context.Context, opts rt.BuildOptions) error {
	tags := strings.Join(opts.Tags, ", ")
	buildCtx, err := tarDir(opts.Dir)
	if err != nil {
		return fmt.Errorf("build %s: %w", tags, err)
	}
	args := make(map[string]*string, len(opts.BuildArgs))
	for k, v := range opts.BuildArgs {
		args[k] = &v
	}
	resp, err := e.cli.ImageBuild(ctx, buildCtx, build.ImageBuildOptions{
		Tags:        opts.Tags,
		Dockerfile:  opts.Dockerfile,
		BuildArgs:   args,
		Labels:      opts.Labels,
		Remove:      true,
		ForceRemove: true,
	})
	if err != nil {
		return fmt.Errorf("build %s: %w", tags, mapErr(err))
	}
	defer resp.Body.Close()
	if err := readBuildStream(resp.Body); err != nil {
		return fmt.Errorf("build %s: %w", tags, err)
	}
	return nil
}

// buildMessage is the part of the engine's build progress messages that
// tells success from failure.
type buildMessage struct {
	Stream      string `json:"stream"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

func readBuildStream(r io.Reader) error {
	dec := json.NewDecoder(r)
	var lastLines []string
	for {
		var m buildMessage
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading build output: %w", err)
		}
		if line := strings.TrimSpace(m.Stream); line != "" {
			lastLines = append(lastLines, line)
			if len(lastLines) > 5 {
				lastLines = lastLines[1:]
			}
		}
		msg := m.Error
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			msg = m.ErrorDetail.Message
		}
		if msg != "" {
			// The last steps of the output say where the build broke.
			if len(lastLines) > 0 {
				msg += "\n" + strings.Join(lastLines, "\n")
			}
			return errors.New(msg)
		}
	}
}

// tarDir makes a build context of dir with the ownership the Docker CLI
// gives it (root), so that images do not depend on who built them.
// .dockerignore is not interpreted: the project's contexts are small.
func tarDir(dir string) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}
