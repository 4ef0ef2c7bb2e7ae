package deploytest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mini-deploy/mini-deploy/loadgen"
)

// Load defaults.
const (
	DefaultLoadDuration     = 30 * time.Second
	DefaultKeepAliveClients = 4
	DefaultNewConnClients   = 2
	maxLoadClients          = 64
)

// LoadOptions shape the client traffic of Load. The zero value sends from 4
// keep-alive clients and 2 clients opening a new connection per request
// (curl in a loop) for at most 30 seconds.
type LoadOptions struct {
	// Duration bounds the run (default 30s, at most loadgen.MaxDuration).
	// Ending ctx ends it sooner: that is the usual way to stop it.
	Duration time.Duration
	// Requests, when set, also bounds the run by count, shared between the
	// clients in proportion to their number.
	Requests int
	// KeepAlive and NewConnections are the number of clients of each kind
	// (each at most 64). Both zero means the defaults.
	KeepAlive      int
	NewConnections int
	// Timeout bounds one request (default loadgen's, 5s).
	Timeout time.Duration
}

// Load sends GET requests to url from several clients at once until ctx
// ends or a bound is reached, and returns what they saw: answers by version
// and by pod, failures and their causes. Failed stays 0 only if every
// request got a 2xx answer. Only this machine's addresses are accepted.
//
// Latencies (P50, P99, Max) are the worse of the two kinds of client, and
// LastVersion is the keep-alive clients' (else the others').
func (e *Env) Load(ctx context.Context, url string, opts LoadOptions) (*loadgen.Summary, error) {
	return Load(ctx, url, opts)
}

// Load is Env.Load for a URL outside an Env.
func Load(ctx context.Context, url string, opts LoadOptions) (*loadgen.Summary, error) {
	runs, err := loadRuns(url, opts)
	if err != nil {
		return nil, err
	}
	sums := make([]*loadgen.Summary, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, o := range runs {
		wg.Go(func() { sums[i], errs[i] = loadgen.Run(ctx, o) })
	}
	wg.Wait()
	for _, err := range errs {
		// A run cut short by ctx is complete up to then.
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
	}
	return merge(sums), nil
}

func loadRuns(url string, opts LoadOptions) ([]loadgen.Options, error) {
	if opts.KeepAlive < 0 || opts.NewConnections < 0 || opts.Requests < 0 || opts.Duration < 0 {
		return nil, fmt.Errorf("load options %+v: no value may be negative", opts)
	}
	if opts.KeepAlive > maxLoadClients || opts.NewConnections > maxLoadClients {
		return nil, fmt.Errorf("load options: at most %d clients of each kind", maxLoadClients)
	}
	if opts.KeepAlive == 0 && opts.NewConnections == 0 {
		opts.KeepAlive, opts.NewConnections = DefaultKeepAliveClients, DefaultNewConnClients
	}
	if opts.Duration == 0 {
		opts.Duration = DefaultLoadDuration
	}
	clients := opts.KeepAlive + opts.NewConnections
	if opts.Requests > 0 && opts.Requests < clients {
		return nil, fmt.Errorf("load options: %d requests for %d clients: give each client at least one", opts.Requests, clients)
	}
	var runs []loadgen.Options
	for _, kind := range []struct {
		n       int
		newConn bool
	}{{opts.KeepAlive, false}, {opts.NewConnections, true}} {
		if kind.n == 0 {
			continue
		}
		o := loadgen.Options{URL: url, Duration: opts.Duration, Concurrency: kind.n, NewConnections: kind.newConn, Timeout: opts.Timeout}
		if opts.Requests > 0 {
			o.Requests = opts.Requests * kind.n / clients
			if !kind.newConn {
				// The keep-alive clients take the remainder of the division.
				o.Requests = opts.Requests - opts.Requests*opts.NewConnections/clients
			}
		}
		if err := o.Validate(); err != nil {
			return nil, err
		}
		runs = append(runs, o)
	}
	return runs, nil
}

func merge(sums []*loadgen.Summary) *loadgen.Summary {
	out := &loadgen.Summary{ByVersion: map[string]int{}, ByPod: map[string]int{}, Errors: map[string]int{}}
	for _, s := range sums {
		out.Requests += s.Requests
		out.OK += s.OK
		out.Failed += s.Failed
		addCounts(out.ByVersion, s.ByVersion)
		addCounts(out.ByPod, s.ByPod)
		addCounts(out.Errors, s.Errors)
		out.P50, out.P99, out.Max = max(out.P50, s.P50), max(out.P99, s.P99), max(out.Max, s.Max)
		out.Elapsed = max(out.Elapsed, s.Elapsed)
		if out.LastVersion == "" {
			out.LastVersion = s.LastVersion
		}
		for i, sec := range s.Seconds {
			if i == len(out.Seconds) {
				out.Seconds = append(out.Seconds, loadgen.Second{Index: sec.Index, ByVersion: map[string]int{}, ByPod: map[string]int{}})
			}
			m := &out.Seconds[i]
			m.OK += sec.OK
			m.Failed += sec.Failed
			addCounts(m.ByVersion, sec.ByVersion)
			addCounts(m.ByPod, sec.ByPod)
		}
	}
	return out
}

func addCounts(dst, src map[string]int) {
	for k, v := range src {
		dst[k] += v
	}
}

// LoadRun is a Load running in the background.
type LoadRun struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	sum    *loadgen.Summary
	err    error
}

// StartLoad runs Load in the background until Stop (or its bound). The
// test's cleanup stops it, so it never outlives the test.
func (e *Env) StartLoad(url string, opts LoadOptions) *LoadRun {
	ctx, cancel := context.WithCancel(context.Background())
	r := &LoadRun{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.sum, r.err = Load(ctx, url, opts)
	}()
	e.t.Cleanup(func() { _, _ = r.Stop() })
	return r
}

// Stop ends the load and returns what it saw. Calling it again returns the
// same.
func (r *LoadRun) Stop() (*loadgen.Summary, error) {
	r.once.Do(func() {
		r.cancel()
		<-r.done
	})
	return r.sum, r.err
}
