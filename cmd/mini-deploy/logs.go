package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

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
	selector   string
	prefix     bool
}

func newLogsCommand(g *globalOptions) *cobra.Command {
	o := &logsOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "logs (POD | TYPE/NAME | -l SELECTOR) [-f] [--tail N]",
		Short: "Print a pod's output",
		Long: `Print the output of a pod's container. For a Deployment, ReplicaSet or
ReplicationController, one of its pods is picked, as kubectl does.

With -l, every pod the selector matches, the last 10 lines of each unless
--tail says otherwise, as kubectl does; --prefix names the pod on each line.

Examples:
  mini-deploy logs kubia-v1-x7k2p
  mini-deploy logs -f deploy/kubia --tail 20
  mini-deploy logs -l app=kubia --prefix`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runLogs(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing as the pod writes")
	f.IntVar(&o.tail, "tail", -1, "print only the last N lines (-1: all)")
	f.BoolVar(&o.timestamps, "timestamps", false, "prefix each line with its time")
	f.StringVarP(&o.selector, "selector", "l", "", "print the logs of every pod matching this label selector")
	f.BoolVar(&o.prefix, "prefix", false, "begin each line with [pod/NAME/CONTAINER]")
	return cmd
}

func runLogs(ctx context.Context, o *logsOptions) error {
	c := o.client()
	defer c.Close()
	switch {
	case o.selector != "" && len(o.args) > 0:
		return errors.New("only a selector (-l) or a pod name is allowed")
	case o.selector != "":
		return logsOfSelected(ctx, c, o)
	case len(o.args) == 0:
		return errors.New("give a pod, TYPE/NAME or -l SELECTOR, as in: mini-deploy logs kubia-v1-x7k2p")
	}
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
	opts, ok := o.logOptions(o.tail)
	if !ok {
		return nil
	}
	return copyLogs(ctx, c, o, pod, opts, o.out, false)
}

// copyLogs writes one pod's logs to w, each line begun with the pod's name
// under --prefix. byLine writes whole lines only, for a w that several pods
// share.
func copyLogs(ctx context.Context, c *client.Client, o *logsOptions, pod string, opts server.LogOptions, w io.Writer, byLine bool) error {
	rd, err := c.Logs(ctx, o.namespace, pod, opts)
	if err != nil {
		return err
	}
	defer rd.Close()
	if o.prefix || byLine {
		prefix := ""
		if o.prefix {
			// One container per pod here, named by the pod's template.
			prefix = "[pod/" + pod + "/" + containerOf(ctx, c, o, pod) + "] "
		}
		sc := bufio.NewScanner(rd)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if _, err := io.WriteString(w, prefix+sc.Text()+"\n"); err != nil {
				return err
			}
		}
		err = sc.Err()
	} else {
		_, err = io.Copy(w, rd)
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func containerOf(ctx context.Context, c *client.Client, o *logsOptions, pod string) string {
	if obj, err := c.Get(ctx, api.KindPod, o.namespace, pod); err == nil {
		if cs := obj.(*api.Pod).Spec.Containers; len(cs) > 0 {
			return cs[0].Name
		}
	}
	return "container"
}

// logsOfSelected prints the logs of every pod -l matches, one after another
// by name; with -f all at once, whole lines interleaved as they come.
func logsOfSelected(ctx context.Context, c *client.Client, o *logsOptions) error {
	objs, err := c.List(ctx, api.KindPod, o.namespace, o.selector)
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		fmt.Fprintf(o.errOut, "No resources found in %s namespace.\n", o.namespace)
		return nil
	}
	tail := o.tail
	if tail < 0 {
		tail = 10 // kubectl's default with a selector
	}
	opts, ok := o.logOptions(tail)
	if !ok {
		return nil
	}
	var names []string
	for _, obj := range objs {
		names = append(names, obj.Meta().Name)
	}
	slices.Sort(names)
	if !o.follow {
		var errs []error
		for _, name := range names {
			if err := copyLogs(ctx, c, o, name, opts, o.out, false); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	w := &lineWriter{w: o.out}
	errs := make(chan error, len(names))
	for _, name := range names {
		go func() { errs <- copyLogs(ctx, c, o, name, opts, w, true) }()
	}
	var all []error
	for range names {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

// lineWriter lets several pods' followers share one output without cutting
// each other's lines: every Write is a whole line or more.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
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

// logOptions asks the daemon for the last tail lines (-1: all). --tail 0
// asks for none: with -f that follows only new lines, as kubectl does;
// without, there is nothing to print and ok is false.
func (o *logsOptions) logOptions(tail int) (opts server.LogOptions, ok bool) {
	opts = server.LogOptions{Follow: o.follow, Timestamps: o.timestamps}
	switch {
	case tail > 0:
		opts.Tail = tail
	case tail == 0 && !o.follow:
		return opts, false
	case tail == 0:
		opts.Tail = -1 // the API's "no lines": 0 is all of them
	}
	return opts, true
}
