package deploytest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
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

// IssueMix is the client mix the project's own zero-downtime tests use: 8
// keep-alive GET clients, 4 opening a new connection per request and 2
// sending POSTs with a body.
var IssueMix = LoadOptions{KeepAlive: 8, NewConnections: 4, Posts: 2}

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
	// Posts is the number of keep-alive clients sending POST requests with
	// a body: the requests a proxy may never send twice.
	Posts int
	// Rate caps the requests per second of all clients together, shared in
	// proportion to their number (0: as fast as they go).
	Rate float64
	// Timeout bounds one request (default loadgen's, 5s).
	Timeout time.Duration
}

// Client groups of a load, as LoadRun.Groups names them.
const (
	GroupKeepAlive      = "keep-alive GET"
	GroupNewConnections = "new-connection GET"
	GroupPosts          = "POST"
)

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
	groups, err := loadGroups(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	sums := make([]*loadgen.Summary, 0, len(groups))
	for _, g := range groups {
		sums = append(sums, g.summary)
	}
	return merge(sums), nil
}

type loadGroup struct {
	name    string
	summary *loadgen.Summary
}

// loadGroups runs every client group at once and returns each one's summary.
func loadGroups(ctx context.Context, url string, opts LoadOptions) ([]loadGroup, error) {
	runs, names, err := loadRuns(url, opts)
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
	out := make([]loadGroup, len(runs))
	for i, err := range errs {
		// A run cut short by ctx is complete up to then.
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		out[i] = loadGroup{names[i], sums[i]}
	}
	return out, nil
}

func loadRuns(url string, opts LoadOptions) ([]loadgen.Options, []string, error) {
	if opts.KeepAlive < 0 || opts.NewConnections < 0 || opts.Posts < 0 || opts.Requests < 0 || opts.Duration < 0 || opts.Rate < 0 {
		return nil, nil, fmt.Errorf("load options %+v: no value may be negative", opts)
	}
	if opts.KeepAlive > maxLoadClients || opts.NewConnections > maxLoadClients || opts.Posts > maxLoadClients {
		return nil, nil, fmt.Errorf("load options: at most %d clients of each kind", maxLoadClients)
	}
	if opts.KeepAlive == 0 && opts.NewConnections == 0 && opts.Posts == 0 {
		opts.KeepAlive, opts.NewConnections = DefaultKeepAliveClients, DefaultNewConnClients
	}
	if opts.Duration == 0 {
		opts.Duration = DefaultLoadDuration
	}
	clients := opts.KeepAlive + opts.NewConnections + opts.Posts
	if opts.Requests > 0 && opts.Requests < clients {
		return nil, nil, fmt.Errorf("load options: %d requests for %d clients: give each client at least one", opts.Requests, clients)
	}
	var runs []loadgen.Options
	var names []string
	for _, kind := range []struct {
		name    string
		n       int
		newConn bool
		post    bool
	}{{GroupKeepAlive, opts.KeepAlive, false, false}, {GroupNewConnections, opts.NewConnections, true, false}, {GroupPosts, opts.Posts, false, true}} {
		if kind.n == 0 {
			continue
		}
		o := loadgen.Options{URL: url, Duration: opts.Duration, Concurrency: kind.n, NewConnections: kind.newConn, Timeout: opts.Timeout}
		if kind.post {
			o.Method, o.Body = http.MethodPost, []byte("deploytest")
		}
		if opts.Rate > 0 {
			o.Rate = opts.Rate * float64(kind.n) / float64(clients)
		}
		if opts.Requests > 0 {
			o.Requests = opts.Requests * kind.n / clients
			if kind.name == GroupKeepAlive {
				// The keep-alive clients take the remainder of the division.
				o.Requests = opts.Requests - opts.Requests*opts.NewConnections/clients - opts.Requests*opts.Posts/clients
			}
		}
		if err := o.Validate(); err != nil {
			return nil, nil, err
		}
		runs = append(runs, o)
		names = append(names, kind.name)
	}
	return runs, names, nil
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
	groups []loadGroup
	err    error
}

// StartLoad runs Load in the background until Stop (or its bound). The
// test's cleanup stops it, so it never outlives the test.
func (e *Env) StartLoad(url string, opts LoadOptions) *LoadRun {
	return StartLoad(e.t, url, opts)
}

// StartLoad is Env.StartLoad for a URL outside an Env.
func StartLoad(t testing.TB, url string, opts LoadOptions) *LoadRun {
	ctx, cancel := context.WithCancel(context.Background())
	r := &LoadRun{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.groups, r.err = loadGroups(ctx, url, opts)
	}()
	t.Cleanup(func() { _, _ = r.Stop() })
	return r
}

// Stop ends the load and returns what it saw. Calling it again returns the
// same.
func (r *LoadRun) Stop() (*loadgen.Summary, error) {
	r.once.Do(func() {
		r.cancel()
		<-r.done
	})
	if r.err != nil {
		return nil, r.err
	}
	sums := make([]*loadgen.Summary, 0, len(r.groups))
	for _, g := range r.groups {
		sums = append(sums, g.summary)
	}
	return merge(sums), nil
}

// Groups stops the load and returns each client group's summary by name
// (GroupKeepAlive, GroupNewConnections, GroupPosts), for a test that holds
// one kind of request to a different bar.
func (r *LoadRun) Groups() (map[string]*loadgen.Summary, error) {
	if _, err := r.Stop(); err != nil {
		return nil, err
	}
	out := make(map[string]*loadgen.Summary, len(r.groups))
	for _, g := range r.groups {
		out[g.name] = g.summary
	}
	return out, nil
}

// Check stops the load and fails the test on any failed request, logging
// each group's counts; what names the moment in messages.
func (r *LoadRun) Check(t testing.TB, what string) *loadgen.Summary {
	t.Helper()
	groups, err := r.Groups()
	if err != nil {
		t.Fatalf("%s: load: %v", what, err)
	}
	for _, name := range []string{GroupKeepAlive, GroupNewConnections, GroupPosts} {
		s := groups[name]
		if s == nil {
			continue
		}
		t.Logf("%s: %s: %d requests, %d failed, by version %s, p99 %v", what, name, s.Requests, s.Failed, loadgen.FormatCounts(s.ByVersion), s.P99)
		if s.Failed != 0 {
			t.Errorf("%s: %s clients saw %d failed requests of %d: %v", what, name, s.Failed, s.Requests, s.Errors)
		}
	}
	sum, _ := r.Stop()
	if sum.Requests == 0 {
		t.Errorf("%s: no request was sent", what)
	}
	return sum
}
