package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/cmd/mini-deploy/internal/printer"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/client"
)

// Wait's defaults, kubectl's.
const (
	defaultWaitTimeout = 30 * time.Second
	waitPollInterval   = 200 * time.Millisecond
	// waitForever is what a negative --timeout means: a week.
	waitForever = 7 * 24 * time.Hour
)

type waitOptions struct {
	*globalOptions
	args     []string
	forCond  string
	selector string
	all      bool
	timeout  time.Duration
}

func newWaitCommand(g *globalOptions) *cobra.Command {
	o := &waitOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "wait (TYPE/NAME | TYPE -l SELECTOR | TYPE --all) --for=delete|condition=C[=V]|jsonpath=PATH=VALUE",
		Short: "Wait until objects meet a condition, instead of sleeping",
		Long: `Wait until every object named meets the condition, then print
"TYPE/NAME condition met" for each. Conditions: condition=Available|Progressing
for a Deployment (the status must also be of its latest generation),
condition=Ready for a pod, delete for an object that must be gone, and
jsonpath='{.status.readyReplicas}'=3 for any field. The exit code is 1 when the
timeout passes first.

Examples:
  mini-deploy wait --for=condition=Available deployment/kubia --timeout=60s
  mini-deploy wait --for=condition=Ready pod -l app=kubia
  mini-deploy wait --for=delete pod/kubia-x8v2d
  mini-deploy wait --for=jsonpath='{.status.readyReplicas}'=3 deploy/kubia`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.args = args
			return runWait(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.forCond, "for", "", "the condition: delete, condition=NAME[=VALUE] or jsonpath=PATH=VALUE")
	f.StringVarP(&o.selector, "selector", "l", "", "label selector of the objects to wait for")
	f.BoolVar(&o.all, "all", false, "wait for every object of the type")
	f.DurationVar(&o.timeout, "timeout", defaultWaitTimeout, "give up after this long; 0 checks once, a negative value waits a week")
	return cmd
}

// waitCondition is one --for: met reports whether obj (nil: it is gone)
// meets it.
type waitCondition struct {
	forDelete bool
	met       func(obj api.Object) (bool, error)
}

func parseWaitFor(s string) (*waitCondition, error) {
	switch {
	case s == "":
		return nil, errors.New("--for must be set, as delete, condition=condition-name or jsonpath='{JSONPath expression}'=value")
	case strings.ToLower(s) == "delete":
		return &waitCondition{forDelete: true, met: func(obj api.Object) (bool, error) { return obj == nil, nil }}, nil
	case strings.HasPrefix(s, "condition="):
		name, want, ok := strings.Cut(strings.TrimPrefix(s, "condition="), "=")
		if !ok {
			want = "True"
		}
		if name == "" {
			return nil, fmt.Errorf("unrecognized condition: %q", s)
		}
		return &waitCondition{met: func(obj api.Object) (bool, error) {
			return obj != nil && hasCondition(obj, name, want), nil
		}}, nil
	case strings.HasPrefix(s, "jsonpath="):
		expr := strings.TrimPrefix(s, "jsonpath=")
		// The value follows the last "=" outside the braces.
		end := strings.LastIndex(expr, "}")
		path, want, ok := expr, "", false
		if i := strings.Index(expr[end+1:], "="); i >= 0 {
			path, want, ok = expr[:end+1+i], expr[end+2+i:], true
		}
		if !ok || path == "" {
			return nil, fmt.Errorf("jsonpath wait format must be --for=jsonpath='{.status.readyReplicas}'=3: %q", s)
		}
		if _, _, err := printer.JSONPathValue(path, struct{}{}); err != nil {
			return nil, err
		}
		return &waitCondition{met: func(obj api.Object) (bool, error) {
			if obj == nil {
				return false, nil
			}
			got, found, err := printer.JSONPathValue(path, obj)
			return found && got == want, err
		}}, nil
	}
	return nil, fmt.Errorf("unrecognized condition: %q", s)
}

// hasCondition reports whether obj's status has condition name with
// status want (case does not matter), for the generation obj is at: a
// Deployment's Available of before its last change does not count.
func hasCondition(obj api.Object, name, want string) bool {
	doc, err := api.Generic(obj)
	if err != nil {
		return false
	}
	status, _ := doc.(map[string]any)["status"].(map[string]any)
	if og, ok := status["observedGeneration"].(int64); ok && og < obj.Meta().Generation {
		return false
	}
	conds, _ := status["conditions"].([]any)
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		t, _ := cm["type"].(string)
		s, _ := cm["status"].(string)
		if strings.EqualFold(t, name) && strings.EqualFold(s, want) {
			return true
		}
	}
	return false
}

func runWait(ctx context.Context, o *waitOptions) error {
	cond, err := parseWaitFor(o.forCond)
	if err != nil {
		return err
	}
	targets, err := parseTargets("wait", o.args, false)
	if err != nil {
		return err
	}
	timeout := o.timeout
	if timeout < 0 {
		timeout = waitForever
	}
	deadline := time.Now().Add(timeout)
	c := o.client()
	defer c.Close()

	// The objects to wait for: named ones, and what -l or --all find now.
	var named []target
	for _, t := range targets {
		if t.name != "" {
			named = append(named, t)
			continue
		}
		if o.selector == "" && !o.all {
			return errors.New("resource(s) were provided, but no name was specified: give NAME, -l SELECTOR or --all")
		}
		objs, err := c.List(ctx, t.typ.kind, o.namespace, o.selector)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			named = append(named, target{t.typ, obj.Meta().Name})
		}
	}
	if len(named) == 0 {
		return errors.New("no matching resources found")
	}
	for _, t := range named {
		if err := waitOne(ctx, c, o.namespace, t, cond, deadline); err != nil {
			return err
		}
		fmt.Fprintf(o.out, "%s/%s condition met\n", printer.Resource(t.typ.kind), t.name)
	}
	return nil
}

// waitOne polls one object until cond is met or the deadline passes.
func waitOne(ctx context.Context, c *client.Client, ns string, t target, cond *waitCondition, deadline time.Time) error {
	for {
		obj, err := c.Get(ctx, t.typ.kind, ns, t.name)
		switch {
		case isNotFound(err) && cond.forDelete:
			obj = nil
		case err != nil:
			return err
		}
		ok, err := cond.met(obj)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("timed out waiting for the condition on %s/%s", t.typ.plural, t.name)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(waitPollInterval, left)):
		}
	}
}
