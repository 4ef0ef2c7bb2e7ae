package docker

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// execPollInterval paces the wait for an exec's exit code, which the engine
// may publish a moment after the output stream ends.
const execPollInterval = 10 * time.Millisecond

// Logs returns the container's stdout and stderr as one stream. Containers
// are created without a TTY, so the engine multiplexes the two and the
// stream is demultiplexed here.
func (e *Engine) Logs(ctx context.Context, id string, opts rt.LogOptions) (io.ReadCloser, error) {
	c, err := e.inspectManaged(ctx, id)
	if err != nil {
		return nil, err
	}
	tail := "all"
	switch {
	case opts.Tail > 0:
		tail = strconv.Itoa(opts.Tail)
	case opts.Tail < 0:
		tail = "0"
	}
	raw, err := e.cli.ContainerLogs(ctx, c.ID, container.LogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     opts.Follow,
		Timestamps: opts.Timestamps,
		Tail:       tail,
	})
	if err != nil {
		return nil, mapErr(err)
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, raw)
		raw.Close()
		pw.CloseWithError(err)
	}()
	return &logReader{PipeReader: pr, raw: raw}, nil
}

// logReader closes the engine's stream too, so that a reader that stops
// early does not leave a follow request open.
type logReader struct {
	*io.PipeReader
	raw io.Closer
}

func (r *logReader) Close() error {
	r.raw.Close()
	return r.PipeReader.Close()
}

// Exec runs cmd in a running managed container and returns its exit code
// and interleaved output. Ending ctx abandons the command's output; the
// engine offers no way to kill an exec'd process.
func (e *Engine) Exec(ctx context.Context, id string, cmd []string, out io.Writer) (rt.ExecResult, error) {
	c, err := e.inspectManaged(ctx, id)
	if err != nil {
		return rt.ExecResult{}, err
	}
	created, err := e.cli.ContainerExecCreate(ctx, c.ID, container.ExecOptions{
		AttachStdout: true,
		AttachStderr: true,
		Cmd:          cmd,
	})
	if err != nil {
		return rt.ExecResult{}, mapErr(err)
	}
	att, err := e.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return rt.ExecResult{}, mapErr(err)
	}
	defer att.Close()

	// One writer for both streams, which StdCopy calls from this one
	// goroutine: the output stays interleaved as the engine sent it.
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(out, out, att.Reader)
		copied <- err
	}()
	select {
	case err := <-copied:
		if err != nil && !errors.Is(err, io.EOF) {
			return rt.ExecResult{}, err
		}
	case <-ctx.Done():
		att.Close()
		<-copied
		return rt.ExecResult{}, ctx.Err()
	}

	for {
		info, err := e.cli.ContainerExecInspect(ctx, created.ID)
		if err != nil {
			return rt.ExecResult{}, mapErr(err)
		}
		if !info.Running {
			return rt.ExecResult{ExitCode: info.ExitCode}, nil
		}
		select {
		case <-time.After(execPollInterval):
		case <-ctx.Done():
			return rt.ExecResult{}, ctx.Err()
		}
	}
}
