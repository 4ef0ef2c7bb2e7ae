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
		if pod, err = pickPod(ctx, c, o.globalOptions, rt, name); err != nil {
			return err
		}
	}
	opts, ok := o.logOptions(o.tail)
	if !ok {
		return nil
	}
	prefix := ""
	if o.prefix {
		obj, err := c.Get(ctx, api.KindPod, o.namespace, pod)
		if err != nil {
			return err
		}
		prefix = linePrefix(obj.(*api.Pod))
	}
	return copyLogs(ctx, c, o.namespace, pod, opts, o.out, prefix, false)
}

// copyLogs writes one pod's logs to w, each line begun with prefix (--prefix).
// byLine writes whole lines only, for a w that several pods share.
func copyLogs(ctx context.Context, c *client.Client, namespace, pod string, opts server.LogOptions, w io.Writer, prefix string, byLine bool) error {
	rd, err := c.Logs(ctx, namespace, pod, opts)
	if err != nil {
		return err
	}
	defer rd.Close()
	if prefix != "" || byLine {
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

// linePrefix is what --prefix begins a pod's lines with: [pod/NAME/CONTAINER].
// A pod has one container here.
func linePrefix(p *api.Pod) string {
	container := "container"
	if cs := p.Spec.Containers; len(cs) > 0 {
		container = cs[0].Name
	}
	return "[pod/" + p.Name + "/" + container + "] "
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
	// The listed pods give each its prefix: no Get a pod.
	slices.SortFunc(objs, func(a, b api.Object) int { return strings.Compare(a.Meta().Name, b.Meta().Name) })
	prefix := func(obj api.Object) string {
		if !o.prefix {
			return ""
		}
		return linePrefix(obj.(*api.Pod))
	}
	if !o.follow {
		var errs []error
		for _, obj := range objs {
			if err := copyLogs(ctx, c, o.namespace, obj.Meta().Name, opts, o.out, prefix(obj), false); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	w := &lineWriter{w: o.out}
	errs := make(chan error, len(objs))
	for _, obj := range objs {
		go func() { errs <- copyLogs(ctx, c, o.namespace, obj.Meta().Name, opts, w, prefix(obj), true) }()
	}
	var all []error
	for range objs {
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
func pickPod(ctx context.Context, c *client.Client, o *globalOptions, rt *resourceType, name string) (string, error) {
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
