package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

type execOptions struct {
	*globalOptions
	target      string
	command     []string
	interactive bool
	tty         bool
}

func newExecCommand(g *globalOptions) *cobra.Command {
	o := &execOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "exec (POD | TYPE/NAME) -- COMMAND [ARG...]",
		Short: "Run a command in a pod's container",
		Long: `Run a command in a pod's container and print its output. The exit code is the
command's, and a failing command is reported as kubectl does. For a Deployment,
ReplicaSet, ReplicationController or Service, one of its pods is picked.

There is no terminal: for an interactive shell (kubectl exec -it), use
docker exec -it with the container ID this command names.

Examples:
  mini-deploy exec kubia-v1-x7k2p -- ls /
  mini-deploy exec deploy/kubia -- /kubia --version`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if dash != 1 || len(args) < 2 {
				return errors.New("exec: give one pod, then -- and the command, as in: mini-deploy exec kubia-v1-x7k2p -- ls /")
			}
			o.target, o.command = args[0], args[1:]
			return runExec(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.interactive, "stdin", "i", false, "not supported: use docker exec -it")
	f.BoolVarP(&o.tty, "tty", "t", false, "not supported: use docker exec -it")
	return cmd
}

func runExec(ctx context.Context, o *execOptions) error {
	c := o.client()
	defer c.Close()
	pod := o.target
	if typ, name, ok := strings.Cut(pod, "/"); ok {
		rt, found := lookupType(typ)
		if !found {
			return unknownType(typ, false)
		}
		var err error
		if pod, err = pickPod(ctx, c, o.globalOptions, rt, name); err != nil {
			return err
		}
	}
	if o.interactive || o.tty {
		obj, err := c.Get(ctx, api.KindPod, o.namespace, pod)
		if err != nil {
			return err
		}
		id := "CONTAINER"
		if cs := obj.(*api.Pod).Status.ContainerStatuses; len(cs) > 0 && cs[0].ContainerID != "" {
			id = strings.TrimPrefix(cs[0].ContainerID, "docker://")
			id = id[:min(len(id), 12)]
		}
		return fmt.Errorf("exec: -i and -t (an interactive terminal) are not supported; run: docker exec -it %s %s",
			id, strings.Join(o.command, " "))
	}
	res, err := c.Exec(ctx, o.namespace, pod, o.command, o.out)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		fmt.Fprintf(o.errOut, "command terminated with exit code %d\n", res.ExitCode)
		return &exitError{msg: "command failed", code: res.ExitCode}
	}
	return nil
}
