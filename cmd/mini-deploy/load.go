package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mini-deploy/mini-deploy/loadgen"
)

type loadOptions struct {
	*globalOptions
	url         string
	duration    time.Duration
	requests    int
	concurrency int
	keepAlive   bool
	method      string
	rate        float64
	timeout     time.Duration
	body        string
}

func newLoadCommand(g *globalOptions) *cobra.Command {
	o := &loadOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "load URL [--duration 10s] [--concurrency 8]",
		Short: "Send requests to one of your Services and count failures and versions",
		Long: `Send requests to a Service of this machine for a bounded time and count what
answered: requests that failed (no answer, or a status outside 2xx), and answers
by version and by pod (from X-Version/X-Pod, or kubia's "This is v2 running in
pod kubia-v2-g6rvw"). On a terminal a line per second shows the switch from one
version to the next. Exits 1 if any request failed.

Only addresses of this machine are accepted, and at most 10 minutes: it is for
watching your own rollouts, not for load-testing anyone else.

Examples:
  mini-deploy load http://127.0.0.1:30123 --duration 30s
  mini-deploy load http://127.0.0.1:30123 --keepalive=false --method POST --rate 200`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.url = args[0]
			return runLoad(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send requests (at most 10m)")
	f.IntVar(&o.requests, "requests", 0, "stop after this many requests (0: no count limit)")
	f.IntVar(&o.concurrency, "concurrency", loadgen.DefaultConcurrency, "number of clients sending at once")
	f.BoolVar(&o.keepAlive, "keepalive", true, "reuse connections; false opens one per request, like curl in a loop")
	f.StringVar(&o.method, "method", "GET", "HTTP method")
	f.StringVar(&o.body, "body", "", "request body, for POST")
	f.Float64Var(&o.rate, "rate", 0, "total requests per second (0: as fast as the clients go)")
	f.DurationVar(&o.timeout, "timeout", loadgen.DefaultTimeout, "timeout of one request")
	return cmd
}

func runLoad(ctx context.Context, o *loadOptions) error {
	opts := loadgen.Options{
		URL:            o.url,
		Duration:       o.duration,
		Requests:       o.requests,
		Concurrency:    o.concurrency,
		NewConnections: !o.keepAlive,
		Method:         strings.ToUpper(o.method),
		Rate:           o.rate,
		Timeout:        o.timeout,
	}
	if o.body != "" {
		opts.Body = []byte(o.body)
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	if isTerminal(o.out) {
		opts.OnSecond = func(s loadgen.Second) { fmt.Fprintln(o.out, loadgen.FormatSecond(s)) }
	}
	s, err := loadgen.Run(ctx, opts)
	if s == nil {
		return err
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	loadgen.WriteSummary(o.out, s)
	if s.Failed > 0 {
		return fmt.Errorf("%d of %d requests failed", s.Failed, s.Requests)
	}
	return nil
}
