package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/cmd/mini-deploy/internal/printer"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

type getOptions struct {
	*globalOptions
	args          []string
	selector      string
	output        string
	watch         bool
	watchOnly     bool
	allNamespaces bool
	noHeaders     bool
	showLabels    bool
	sortBy        string
	fieldSelector string
}

func newGetCommand(g *globalOptions) *cobra.Command {
	o := &getOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "get TYPE[/NAME] [NAME...] [-l selector] [-o wide|json|yaml|name] [-w]",
		Short: "List objects, as kubectl get does",
		Long: `List objects. TYPE is one of: ` + validTypes(true) + `.

Examples:
  mini-deploy get pods
  mini-deploy get rc kubia-v1 -o yaml
  mini-deploy get deploy/kubia svc/kubia
  mini-deploy get pods -l app=kubia -w`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runGet(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.selector, "selector", "l", "", "label selector, such as app=kubia,tier!=db")
	f.StringVarP(&o.output, "output", "o", "", "output format: wide, json, yaml, name, jsonpath=TEMPLATE or custom-columns=SPEC")
	f.BoolVarP(&o.watch, "watch", "w", false, "after listing, watch for changes")
	f.BoolVar(&o.watchOnly, "watch-only", false, "watch for changes without listing first")
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list across all namespaces")
	f.BoolVar(&o.noHeaders, "no-headers", false, "leave out the header row")
	f.BoolVar(&o.showLabels, "show-labels", false, "add a LABELS column")
	f.StringVar(&o.sortBy, "sort-by", "", "sort by the value at this jsonpath, e.g. .metadata.creationTimestamp")
	f.StringVar(&o.fieldSelector, "field-selector", "", "keep objects whose fields match, e.g. status.phase=Running,metadata.name!=x")
	return cmd
}

func runGet(ctx context.Context, o *getOptions) error {
	if !printer.ValidFormat(o.output) {
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: %s", o.output, strings.Join(printer.Formats, ","))
	}
	targets, err := parseTargets("get", o.args, true)
	if err != nil {
		return err
	}
	ns := o.namespace
	if o.allNamespaces {
		ns = ""
	}
	c := o.client()
	defer c.Close()
	info, _ := c.Info(ctx)
	// kubectl names every row with its type in `get all`, even when one type
	// alone has objects; with several types the printer does it anyway.
	showKind := o.args[0] == "all"
	p := printer.New(o.out, printer.Options{
		Format: o.output, NoHeaders: o.noHeaders, AllNamespaces: o.allNamespaces, ShowLabels: o.showLabels,
		ShowKind: showKind, Address: info.Address,
	})

	if o.watch || o.watchOnly {
		return watchGet(ctx, o, p, targets, ns)
	}

	var objs []api.Object
	var errs []error
	named := false
	for _, t := range targets {
		if t.name != "" {
			named = true
			obj, err := c.Get(ctx, t.typ.kind, o.namespace, t.name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			objs = append(objs, obj)
			continue
		}
		list, err := c.List(ctx, t.typ.kind, ns, o.selector)
		if err != nil {
			return err
		}
		if t.typ.kind == api.KindEvent {
			sortEvents(list)
		}
		objs = append(objs, list...)
	}
	if o.fieldSelector != "" {
		fs, err := printer.ParseFieldSelector(o.fieldSelector)
		if err != nil {
			return err
		}
		if objs, err = fs.Filter(objs); err != nil {
			return err
		}
	}
	if len(objs) == 0 && len(errs) == 0 {
		if o.output == printer.FormatJSON || o.output == printer.FormatYAML {
			return p.Print(nil, false)
		}
		if o.allNamespaces {
			fmt.Fprintln(o.errOut, "No resources found")
		} else {
			fmt.Fprintf(o.errOut, "No resources found in %s namespace.\n", o.namespace)
		}
		return nil
	}
	if o.sortBy != "" {
		if err := printer.SortBy(objs, o.sortBy); err != nil {
			return err
		}
	}
	if len(objs) > 0 {
		if err := p.Print(objs, named && len(targets) == 1); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

func sortEvents(objs []api.Object) {
	evs := make([]*api.Event, 0, len(objs))
	for _, o := range objs {
		if ev, ok := o.(*api.Event); ok {
			evs = append(evs, ev)
		}
	}
	if len(evs) != len(objs) {
		return
	}
	printer.SortEvents(evs)
	for i, ev := range evs {
		objs[i] = ev
	}
}

// watchGet lists (unless --watch-only), then prints a row for every change
// until the user interrupts. The watch starts before the list so that no
// change between the two is lost; one may show twice, as with kubectl.
func watchGet(ctx context.Context, o *getOptions, p *printer.Printer, targets []target, ns string) error {
	kind := targets[0].typ.kind
	names := map[string]bool{}
	for _, t := range targets {
		if t.typ.kind != kind {
			return errors.New("watch is only supported on individual resources and resource collections, but several types were given")
		}
		if t.name != "" {
			names[t.name] = true
		}
	}
	c := o.client()
	defer c.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := c.Watch(ctx, kind, ns, o.selector)
	if err != nil {
		return err
	}
	s := p.Stream()
	want := func(obj api.Object) bool { return len(names) == 0 || names[obj.Meta().Name] }
	// The daemon watches pods by polling, and its first poll reports every
	// pod as added: a row is printed only when its object changed since the
	// row last printed for it (or listed, for --watch-only).
	type row struct {
		obj  api.Object
		json string
	}
	last := map[api.Key]row{}
	changed := func(obj api.Object) bool {
		b, err := json.Marshal(obj)
		if err != nil {
			return true
		}
		k := api.KeyOf(obj)
		if last[k].json == string(b) {
			return false
		}
		last[k] = row{obj, string(b)}
		return true
	}
	list, err := c.List(ctx, kind, ns, o.selector)
	if err != nil {
		return err
	}
	if kind == api.KindEvent {
		sortEvents(list)
	}
	for _, obj := range list {
		if !want(obj) {
			continue
		}
		changed(obj)
		if o.watchOnly {
			continue
		}
		if err := s.Print(obj); err != nil {
			return err
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("the daemon closed the watch: this client fell behind, or the daemon stopped; run the command again")
			}
			if !want(ev.Object) {
				continue
			}
			if ev.Type == "DELETED" {
				// A pod's deletion comes as a bare name: its last row
				// says more.
				k := api.KeyOf(ev.Object)
				if r, ok := last[k]; ok && ev.Object.Meta().CreationTimestamp.IsZero() {
					ev.Object = r.obj
				}
				delete(last, k)
				markDeleted(ev)
			} else if !changed(ev.Object) {
				continue
			}
			if err := s.Print(ev.Object); err != nil {
				return err
			}
		}
	}
}

// markDeleted makes a deleted pod read Terminating, as its last row.
func markDeleted(ev server.WatchEvent) {
	if ev.Object.Meta().DeletionTimestamp == nil {
		now := api.Now()
		ev.Object.Meta().DeletionTimestamp = &now
	}
}
