package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/client"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

type logsOptions struct {
	*globalOptions
	args       []string
	follow     bool
	tail       int
	timestamps bool
}

func newLogsCommand(g *globalOptions) *cobra.Command {
	o := &logsOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "logs POD | TYPE/NAME [-f] [--tail N]",
		Short: "Print a pod's output",
		Long: `Print the output of a pod's container. For a Deployment, ReplicaSet or
ReplicationController, one of its pods is picked, as kubectl does.

Examples:
  mini-deploy logs kubia-v1-x7k2p
  mini-deploy logs -f deploy/kubia --tail 20`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runLogs(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing as the pod writes")
	f.IntVar(&o.tail, "tail", -1, "print only the last N lines (-1: all)")
	f.BoolVar(&o.timestamps, "timestamps", false, "prefix each line with its time")
	return cmd
}

func runLogs(ctx context.Context, o *logsOptions) error {
	c := o.client()
	defer c.Close()
	pod := o.args[0]
	if typ, name, ok := strings.Cut(pod, "/"); ok {
		rt, found := lookupType(typ)
		if !found {
			return unknownType(typ, false)
		}
		var err error
		if pod, err = pickPod(ctx, c, o, rt, name); err != nil {
			return err
		}
	}
	if o.tail == 0 {
		// The API reads 0 as "all"; zero lines is nothing to ask for.
		return nil
	}
	opts := server.LogOptions{Follow: o.follow, Timestamps: o.timestamps}
	if o.tail > 0 {
		opts.Tail = o.tail
	}
	rd, err := c.Logs(ctx, o.namespace, pod, opts)
	if err != nil {
		return err
	}
	defer rd.Close()
	_, err = io.Copy(o.out, rd)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// pickPod chooses a workload's pod as kubectl does: a ready one if there is
// one, the newest among equals, and says which on stderr when there are
// several.
func pickPod(ctx context.Context, c *client.Client, o *logsOptions, rt *resourceType, name string) (string, error) {
	if rt.kind == api.KindPod {
		return name, nil
	}
	if rt.kind != api.KindDeployment && rt.kind != api.KindReplicaSet && rt.kind != api.KindReplicationController && rt.kind != api.KindService {
		return "", fmt.Errorf("cannot get logs of %s: give a pod, a deployment, a replicaset, a replicationcontroller or a service", rt.plural)
	}
	obj, err := c.Get(ctx, rt.kind, o.namespace, name)
	if err != nil {
		return "", err
	}
	pods, err := podsOf(ctx, c, obj)
	if err != nil {
		return "", err
	}
	if len(pods) == 0 {
		return "", errors.New("no pods found for " + rt.aliases[len(rt.aliases)-1] + " " + name)
	}
	slices.SortFunc(pods, func(a, b *api.Pod) int {
		if ra, rb := podIsReady(a), podIsReady(b); ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return b.CreationTimestamp.Compare(a.CreationTimestamp.Time)
	})
	if len(pods) > 1 {
		fmt.Fprintf(o.errOut, "Found %d pods, using pod/%s\n", len(pods), pods[0].Name)
	}
	return pods[0].Name, nil
}

func podIsReady(p *api.Pod) bool {
	for _, cs := range p.Status.ContainerStatuses {
		if !cs.Ready {
			return false
		}
	}
	return len(p.Status.ContainerStatuses) > 0
}
