package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// kubia answers like luksa/kubia, from two pods of a version that changes
// from v1 to v2 half-way.
func kubia(t *testing.T, headers bool, fail func(n int64) bool) *httptest.Server {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if fail != nil && fail(i) {
			http.Error(w, "no endpoints", http.StatusServiceUnavailable)
			return
		}
		version := "v1"
		if i > 100 {
			version = "v2"
		}
		pod := fmt.Sprintf("kubia-%s-pod%d", version, i%2)
		if headers {
			w.Header().Set("X-Version", version)
			w.Header().Set("X-Pod", pod)
			fmt.Fprintln(w, "hello")
			return
		}
		fmt.Fprintf(w, "This is %s running in pod %s\n", version, pod)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRunCountsByVersionAndPod(t *testing.T) {
	for _, headers := range []bool{false, true} {
		t.Run(fmt.Sprintf("headers=%v", headers), func(t *testing.T) {
			srv := kubia(t, headers, nil)
			s, err := Run(context.Background(), Options{URL: srv.URL, Requests: 200, Concurrency: 4})
			if err != nil {
				t.Fatal(err)
			}
			if s.Requests != 200 || s.OK != 200 || s.Failed != 0 {
				t.Fatalf("summary %+v", s)
			}
			if s.ByVersion["v1"] != 100 || s.ByVersion["v2"] != 100 {
				t.Errorf("by version %v", s.ByVersion)
			}
			if got := strings.Join(s.Pods(), ","); got != "kubia-v1-pod0,kubia-v1-pod1,kubia-v2-pod0,kubia-v2-pod1" {
				t.Errorf("pods %s", got)
			}
			if s.P50 <= 0 || s.P99 < s.P50 || s.Max < s.P99 {
				t.Errorf("latencies p50 %s p99 %s max %s", s.P50, s.P99, s.Max)
			}
			if s.LastVersion != "v2" {
				t.Errorf("last version %q", s.LastVersion)
			}
		})
	}
}

func TestRunCountsFailures(t *testing.T) {
	srv := kubia(t, false, func(n int64) bool { return n%10 == 0 })
	s, err := Run(context.Background(), Options{URL: srv.URL, Requests: 50, Concurrency: 2, NewConnections: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Failed != 5 || s.OK != 45 || s.Errors["503 Service Unavailable"] != 5 {
		t.Fatalf("summary %+v", s)
	}
	var buf bytes.Buffer
	WriteSummary(&buf, s)
	for _, want := range []string{"requests: 50 in ", "ok: 45\n", "failed: 5\n", "  5 x 503 Service Unavailable\n", "by version: v1: 45\n", "latency: p50 "} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestRunTransportErrors(t *testing.T) {
	srv := kubia(t, false, nil)
	url := srv.URL
	srv.Close()
	s, err := Run(context.Background(), Options{URL: url, Requests: 3, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if s.Failed != 3 || len(s.Errors) != 1 {
		t.Fatalf("summary %+v", s)
	}
	for e := range s.Errors {
		if strings.Contains(e, url) || !strings.Contains(e, "refused") {
			t.Errorf("error %q should name the cause, not the URL", e)
		}
	}
}

func TestRunDurationRateAndSeconds(t *testing.T) {
	srv := kubia(t, true, nil)
	var seconds []Second
	s, err := Run(context.Background(), Options{URL: srv.URL, Duration: 2200 * time.Millisecond, Rate: 50, Concurrency: 4,
		OnSecond: func(sec Second) { seconds = append(seconds, sec) }})
	if err != nil {
		t.Fatal(err)
	}
	// 50/s for 2.2 s, with slack for a slow machine.
	if s.Requests < 80 || s.Requests > 115 || s.Failed != 0 {
		t.Fatalf("requests %d failed %d, want about 110 and 0", s.Requests, s.Failed)
	}
	if len(seconds) < 2 || seconds[0].Index != 1 || seconds[1].Index != 2 || len(s.Seconds) != len(seconds) {
		t.Fatalf("seconds %+v", seconds)
	}
	if seconds[0].OK < 40 || seconds[0].OK > 55 {
		t.Errorf("first second ok %d, want about 50", seconds[0].OK)
	}
	if line := FormatSecond(seconds[0]); !strings.HasPrefix(line, "  1s  ok: ") || !strings.Contains(line, "v1: ") {
		t.Errorf("live line %q", line)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	srv := kubia(t, false, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	s, err := Run(ctx, Options{URL: srv.URL, Duration: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) || s == nil || s.Failed != 0 {
		t.Fatalf("Run = %+v, %v", s, err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("Run did not stop with its context")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{URL: "http://127.0.0.1:1"}, "a bound is required"},
		{Options{URL: "http://127.0.0.1:1", Duration: 11 * time.Minute}, "over the limit of 10m0s"},
		{Options{URL: "http://example.com/", Duration: time.Second}, `host "example.com": load only targets this machine's services`},
		{Options{URL: "http://8.8.8.8/", Duration: time.Second}, "host 8.8.8.8 is not an address of this machine"},
		{Options{URL: "ftp://127.0.0.1/", Duration: time.Second}, "want http://HOST:PORT/"},
		{Options{URL: "http://localhost:30123/", Duration: time.Second, Concurrency: 5000}, "concurrency 5000"},
		{Options{URL: "http://localhost:30123/", Duration: time.Second}, ""},
		{Options{URL: "http://[::1]:30123/", Requests: 1}, ""},
	} {
		err := tc.opts.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.opts, err, tc.want)
		}
	}
}
