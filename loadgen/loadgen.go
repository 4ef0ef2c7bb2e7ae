// Package loadgen measures what a client of a Service sees during a
// rollout: how many requests failed, and which version and pod answered
// each one that did not.
//
// It is the seed's `while true; do curl URL; done` loop made exact. Several
// workers send requests for a bounded time, with kept-alive connections or
// a new connection each time, optionally at a fixed total rate. Every answer
// is read to the end, timed, and sorted by the version and pod it names:
// the X-Version and X-Pod headers when the server sets them, otherwise the
// kubia body, "This is v2 running in pod kubia-v2-g6rvw". A request fails
// when it gets no answer or an answer outside 2xx; the whole point of
// mini-deploy is that during a rollout this count stays at zero.
//
// Results come per second (for a live line and a timeline) and in a final
// Summary. The bounds are not optional: a run needs a duration or a request
// count, never longer than MaxDuration, and targets only this machine, so
// that the tool cannot be turned into a flood aimed at someone else.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults and limits.
const (
	DefaultConcurrency = 8
	DefaultTimeout     = 5 * time.Second
	MaxDuration        = 10 * time.Minute
	MaxConcurrency     = 1024
	// maxBody bounds how much of an answer is read and kept for parsing.
	maxBody = 64 << 10
)

// Options configure a Run.
type Options struct {
	URL string
	// Duration bounds the run; Requests bounds it by count. At least one is
	// required; with both, whichever comes first ends it.
	Duration time.Duration
	Requests int
	// Concurrency is the number of workers (default 8).
	Concurrency int
	// NewConnections opens a new connection for every request, like curl in
	// a loop; the default keeps connections alive.
	NewConnections bool
	// Method defaults to GET. Body is sent with every request.
	Method string
	Body   []byte
	// Rate caps the total requests per second; 0 means as fast as the
	// workers go.
	Rate float64
	// Timeout bounds one request (default 5s).
	Timeout time.Duration
	// OnSecond, when set, is called after every whole second of the run
	// with that second's counts, from a single goroutine.
	OnSecond func(Second)
	// AllowRemote lifts the this-machine-only rule; for tests and the proxy
	// benchmark (which measures a pod straight on its bridge address), and
	// nothing else.
	AllowRemote bool
}

// Second is what one second of the run saw.
type Second struct {
	Index     int // 1 for the first second
	OK        int
	Failed    int
	ByVersion map[string]int
	ByPod     map[string]int
}

// Summary is the outcome of a run.
type Summary struct {
	Requests  int
	OK        int
	Failed    int
	ByVersion map[string]int
	ByPod     map[string]int
	// Errors counts failures by what went wrong: "503 Service Unavailable",
	// or a transport error's text.
	Errors   map[string]int
	P50, P99 time.Duration
	Max      time.Duration
	Elapsed  time.Duration
	Seconds  []Second
	// LastVersion is the version named by the last answer received.
	LastVersion string
}

// Versions returns the versions seen, sorted.
func (s *Summary) Versions() []string { return slices.Sorted(maps.Keys(s.ByVersion)) }

// Pods returns the pods seen, sorted.
func (s *Summary) Pods() []string { return slices.Sorted(maps.Keys(s.ByPod)) }

// ErrNoBound is returned for a run with neither a duration nor a count.
var ErrNoBound = errors.New("a bound is required: give a duration (at most 10m) or a number of requests")

// kubiaBody is what luksa/kubia answers.
var kubiaBody = regexp.MustCompile(`This is (\S+) running in pod (\S+)`)

// result is one request's outcome.
type result struct {
	at      time.Duration // since the start, when the answer ended
	latency time.Duration
	err     string // "" when OK
	version string
	pod     string
}

// Validate checks opts without running anything.
func (o *Options) Validate() error {
	if o.Duration <= 0 && o.Requests <= 0 {
		return ErrNoBound
	}
	if o.Duration > MaxDuration {
		return fmt.Errorf("duration %s is over the limit of %s", o.Duration, MaxDuration)
	}
	if o.Duration <= 0 && o.Requests > 0 {
		// A count alone could run forever against a slow server.
		o.Duration = MaxDuration
	}
	if o.Concurrency < 0 || o.Concurrency > MaxConcurrency {
		return fmt.Errorf("concurrency %d: want 1 to %d", o.Concurrency, MaxConcurrency)
	}
	if o.Rate < 0 {
		return fmt.Errorf("rate %g: must not be negative", o.Rate)
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return fmt.Errorf("url %q: %w", o.URL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("url %q: want http://HOST:PORT/...", o.URL)
	}
	if !o.AllowRemote {
		if err := CheckLocal(u.Hostname()); err != nil {
			return err
		}
	}
	return nil
}

// CheckLocal accepts a host that is this machine: localhost, a loopback
// address or an address of one of its interfaces.
func CheckLocal(host string) error {
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return fmt.Errorf("host %q: load only targets this machine's services; use an IP address such as 127.0.0.1", host)
	}
	if ip.IsLoopback() || ip.IsUnspecified() {
		return nil
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
				return nil
			}
		}
	}
	return fmt.Errorf("host %s is not an address of this machine: load only targets this machine's services", host)
}

// Run sends requests until the bound is reached or ctx ends, and returns
// what it saw. A run cut short by ctx still returns its summary, with
// ctx's error.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Method == "" {
		opts.Method = http.MethodGet
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	tr := &http.Transport{
		Proxy:               nil,
		DisableKeepAlives:   opts.NewConnections,
		MaxIdleConnsPerHost: opts.Concurrency,
		MaxIdleConns:        opts.Concurrency,
		IdleConnTimeout:     90 * time.Second,
		DialContext:         (&net.Dialer{Timeout: opts.Timeout}).DialContext,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: opts.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	runCtx, cancel := context.WithTimeout(ctx, opts.Duration)
	defer cancel()

	var tokens <-chan struct{}
	if opts.Rate > 0 {
		tokens = pace(runCtx, opts.Rate)
	}
	var budget chan struct{}
	if opts.Requests > 0 {
		budget = make(chan struct{}, opts.Requests)
		for range opts.Requests {
			budget <- struct{}{}
		}
		close(budget)
	}

	start := time.Now()
	results := make(chan result, opts.Concurrency*4)
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if budget != nil {
					if _, ok := <-budget; !ok {
						return
					}
				}
				if tokens != nil {
					select {
					case <-tokens:
					case <-runCtx.Done():
						return
					}
				}
				if runCtx.Err() != nil {
					return
				}
				r := send(runCtx, hc, &opts, start)
				if r.err != "" && runCtx.Err() != nil {
					// Cut off by the end of the run, not by the server.
					return
				}
				results <- r
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	s := collect(results, start, opts.OnSecond)
	s.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return s, err
	}
	return s, nil
}

// pace hands out rate tokens per second, evenly spaced.
func pace(ctx context.Context, rate float64) <-chan struct{} {
	out := make(chan struct{})
	interval := time.Duration(float64(time.Second) / rate)
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				select {
				case out <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

func send(ctx context.Context, hc *http.Client, opts *Options, start time.Time) result {
	var body io.Reader
	if opts.Body != nil {
		body = strings.NewReader(string(opts.Body))
	}
	t0 := time.Now()
	req, err := http.NewRequestWithContext(ctx, opts.Method, opts.URL, body)
	if err != nil {
		return result{at: time.Since(start), err: err.Error()}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return result{at: time.Since(start), latency: time.Since(t0), err: transportError(err)}
	}
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r := result{at: time.Since(start), latency: time.Since(t0)}
	switch {
	case rerr != nil:
		r.err = transportError(rerr)
	case resp.StatusCode/100 != 2:
		r.err = resp.Status
	}
	r.version, r.pod = resp.Header.Get("X-Version"), resp.Header.Get("X-Pod")
	if r.version == "" || r.pod == "" {
		if m := kubiaBody.FindSubmatch(data); m != nil {
			if r.version == "" {
				r.version = string(m[1])
			}
			if r.pod == "" {
				r.pod = string(m[2])
			}
		}
	}
	return r
}

// transportError keeps what went wrong and drops the URL, so that equal
// failures count together.
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

func collect(results <-chan result, start time.Time, onSecond func(Second)) *Summary {
	s := &Summary{ByVersion: map[string]int{}, ByPod: map[string]int{}, Errors: map[string]int{}}
	var latencies []time.Duration
	cur := newSecond(1)
	flush := func() {
		s.Seconds = append(s.Seconds, cur)
		if onSecond != nil {
			onSecond(cur)
		}
		cur = newSecond(cur.Index + 1)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case r, ok := <-results:
			if !ok {
				if cur.OK+cur.Failed > 0 {
					flush()
				}
				finish(s, latencies)
				return s
			}
			// A result that arrives after its second ended still counts in
			// the second it happened in, if that one is still open.
			s.Requests++
			latencies = append(latencies, r.latency)
			if r.err != "" {
				s.Failed++
				s.Errors[r.err]++
				cur.Failed++
				continue
			}
			s.OK++
			cur.OK++
			if r.version != "" {
				s.ByVersion[r.version]++
				cur.ByVersion[r.version]++
				s.LastVersion = r.version
			}
			if r.pod != "" {
				s.ByPod[r.pod]++
				cur.ByPod[r.pod]++
			}
		case <-tick.C:
			flush()
		}
	}
}

func newSecond(i int) Second {
	return Second{Index: i, ByVersion: map[string]int{}, ByPod: map[string]int{}}
}

func finish(s *Summary, latencies []time.Duration) {
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	s.P50 = percentile(latencies, 0.50)
	s.P99 = percentile(latencies, 0.99)
	s.Max = latencies[len(latencies)-1]
}

// percentile uses the nearest-rank method on sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(p*float64(len(sorted))+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// FormatCounts prints counts as "v1: 120  v2: 30", sorted by key.
func FormatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, "  ")
}

// WriteSummary prints s for people: totals, failures by cause, answers by
// version and by pod, latency.
func WriteSummary(w io.Writer, s *Summary) {
	rps := 0.0
	if s.Elapsed > 0 {
		rps = float64(s.Requests) / s.Elapsed.Seconds()
	}
	fmt.Fprintf(w, "requests: %d in %s (%.0f/s)\n", s.Requests, s.Elapsed.Round(10*time.Millisecond), rps)
	fmt.Fprintf(w, "ok: %d\n", s.OK)
	fmt.Fprintf(w, "failed: %d\n", s.Failed)
	for _, e := range slices.Sorted(maps.Keys(s.Errors)) {
		fmt.Fprintf(w, "  %d x %s\n", s.Errors[e], e)
	}
	fmt.Fprintf(w, "by version: %s\n", FormatCounts(s.ByVersion))
	fmt.Fprintf(w, "by pod: %s\n", FormatCounts(s.ByPod))
	fmt.Fprintf(w, "latency: p50 %s  p99 %s  max %s\n", roundLatency(s.P50), roundLatency(s.P99), roundLatency(s.Max))
}

// FormatSecond is the live line of one second.
func FormatSecond(sec Second) string {
	line := fmt.Sprintf("%3ds  ok: %-6d failed: %-4d %s", sec.Index, sec.OK, sec.Failed, FormatCounts(sec.ByVersion))
	return strings.TrimRight(line, " ")
}

func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
