package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mini-deploy/mini-deploy/loadgen"
)

// maxRequestsPerConn bounds a closed loop in count as well as in time.
const maxRequestsPerConn = 2_000_000

type closedResult struct {
	ok, errors int64
	elapsed    time.Duration
}

func (c closedResult) rps() float64 { return float64(c.ok) / c.elapsed.Seconds() }

// closedLoop keeps conns keep-alive connections busy for d, each sending the
// next GET as soon as the previous answer is in. It speaks HTTP/1.1 on raw
// connections so that the load generator, which shares the CPUs with the
// subject, spends as little of them as it can.
func closedLoop(addr string, conns int, d time.Duration) closedResult {
	req := []byte("GET / HTTP/1.1\r\nHost: kubia\r\nUser-Agent: benchcmd\r\nAccept: */*\r\n\r\n")
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range conns {
		wg.Go(func() {
			var c net.Conn
			var br *bufio.Reader
			for n := 0; n < maxRequestsPerConn && time.Now().Before(deadline); n++ {
				if c == nil {
					var err error
					if c, err = net.DialTimeout("tcp", addr, time.Second); err != nil {
						bad.Add(1)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					c.SetDeadline(deadline.Add(5 * time.Second))
					br = bufio.NewReaderSize(c, 8192)
				}
				if _, err := c.Write(req); err != nil {
					bad.Add(1)
					c.Close()
					c = nil
					continue
				}
				keepAlive, err := readResponse(br)
				if err != nil {
					bad.Add(1)
				} else {
					ok.Add(1)
				}
				if err != nil || !keepAlive {
					c.Close()
					c = nil
				}
			}
			if c != nil {
				c.Close()
			}
		})
	}
	wg.Wait()
	return closedResult{ok: ok.Load(), errors: bad.Load(), elapsed: time.Since(start)}
}

var errStatus = errors.New("status not 200")

// readResponse reads one response and its body (Content-Length or chunked)
// and reports whether the server keeps the connection open (nginx closes it
// after keepalive_requests).
func readResponse(br *bufio.Reader) (keepAlive bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return false, err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return false, fmt.Errorf("%w: %q", errStatus, line)
	}
	keepAlive = true
	length, chunked := int64(-1), false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return false, err
		}
		if len(line) <= 2 {
			break
		}
		k, v, _ := bytes.Cut(line, []byte(":"))
		switch strings.ToLower(string(k)) {
		case "content-length":
			length, err = strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return false, err
			}
		case "transfer-encoding":
			chunked = bytes.Contains(bytes.ToLower(v), []byte("chunked"))
		case "connection":
			keepAlive = !bytes.Contains(bytes.ToLower(v), []byte("close"))
		}
	}
	if !chunked {
		if length < 0 {
			return false, errors.New("no content-length: cannot keep the connection")
		}
		_, err = br.Discard(int(length))
		return keepAlive, err
	}
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return false, err
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil {
			return false, err
		}
		if _, err := br.Discard(int(n) + 2); err != nil {
			return false, err
		}
		if n == 0 {
			return keepAlive, nil
		}
	}
}

type openResult struct {
	p50, p99 time.Duration
	errors   uint64
}

// openLoopWorkers is enough workers that, at the benchmark's rate and a
// subject's sub-millisecond latency, a request never waits for a free one:
// the pace, not the answers, sets the rate.
const openLoopWorkers = 32

// openLoop sends rate requests/s for d, through the project's one load
// generator, so queueing in the subject shows up in the percentiles instead
// of lowering the rate.
func openLoop(addr string, rate int, d time.Duration) openResult {
	s, err := loadgen.Run(context.Background(), loadgen.Options{
		URL: "http://" + addr + "/", Duration: d, Rate: float64(rate), Concurrency: openLoopWorkers,
		// One subject is a pod's address on the Docker bridge, which is
		// not an address of this machine's own.
		AllowRemote: true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open loop:", err)
		os.Exit(1)
	}
	return openResult{p50: s.P50, p99: s.P99, errors: uint64(s.Failed)}
}

// cpuTicks sums user and system time, in USER_HZ (100/s) ticks, of pids.
func cpuTicks(pids func() []int) int64 {
	if pids == nil {
		return 0
	}
	var total int64
	for _, pid := range pids() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command name; utime and stime are
		// fields 14 and 15 of the whole line.
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+2:]))
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		total += u + s
	}
	return total
}

// withChildren returns pid and its children: nginx's master and workers.
func withChildren(pid int) []int {
	if pid == 0 {
		return nil
	}
	pids := []int{pid}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for f := range strings.FieldsSeq(string(b)) {
		if c, err := strconv.Atoi(f); err == nil {
			pids = append(pids, c)
		}
	}
	return pids
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return bytes.Count(b, []byte("\nprocessor")) + 1
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type result struct {
	closed    [][]closedResult // by connection count, then round
	open      []openResult
	cpuPerReq []time.Duration // at the first connection count
	rss       int64           // the largest resident set seen, in bytes
}

// rssBytes sums the resident set of pids.
func rssBytes(pids func() []int) int64 {
	var total int64
	for _, pid := range pids() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				total += kb * 1024
			}
		}
	}
	return total
}

func median[T any](xs []T, key func(T) float64) float64 {
	vs := make([]float64, len(xs))
	for i, x := range xs {
		vs[i] = key(x)
	}
	slices.Sort(vs)
	if len(vs) == 0 {
		return 0
	}
	return vs[len(vs)/2]
}

func report(subjects []subject, conns []int, results []result) {
	w := os.Stdout
	fmt.Fprintf(w, "\nmedian over rounds    ")
	for _, n := range conns {
		fmt.Fprintf(w, " %13s", fmt.Sprintf("req/s@%dconns", n))
	}
	fmt.Fprintf(w, "   p50@rate   p99@rate  CPU/request       RSS   errors\n")
	rps := make([]float64, len(subjects)) // at the first connection count
	p99 := make([]float64, len(subjects))
	cpu := make([]float64, len(subjects))
	for i, s := range subjects {
		r := results[i]
		fmt.Fprintf(w, "%-22s", s.name)
		var errs int64
		for ci := range conns {
			v := median(r.closed[ci], closedResult.rps)
			if ci == 0 {
				rps[i] = v
			}
			fmt.Fprintf(w, " %13.0f", v)
			for _, c := range r.closed[ci] {
				errs += c.errors
			}
		}
		p50 := median(r.open, func(o openResult) float64 { return ms(o.p50) })
		p99[i] = median(r.open, func(o openResult) float64 { return ms(o.p99) })
		cpuText, rssText := "-", "-"
		if len(r.cpuPerReq) > 0 {
			cpu[i] = median(r.cpuPerReq, func(d time.Duration) float64 { return float64(d) / 1e3 })
			cpuText = fmt.Sprintf("%.1f µs", cpu[i])
		}
		if r.rss > 0 {
			rssText = fmt.Sprintf("%.1f MB", float64(r.rss)/1e6)
		}
		for _, o := range r.open {
			errs += int64(o.errors)
		}
		fmt.Fprintf(w, " %8.3f ms %8.3f ms %12s %9s %8d\n", p50, p99[i], cpuText, rssText, errs)
	}
	const direct, proxy, nginx, haproxy, baseline = 0, 1, 2, 3, 4 // the order of run's subjects
	fmt.Fprintf(w, "\nat %d connections:\n", conns[0])
	fmt.Fprintf(w, "proxy/nginx requests/s:    %.2fx (target >= 1.00x)\n", rps[proxy]/rps[nginx])
	fmt.Fprintf(w, "proxy/HAProxy requests/s:  %.2fx\n", rps[proxy]/rps[haproxy])
	if len(subjects) > baseline && subjects[baseline].name == "baseline proxy" && rps[baseline] > 0 && cpu[baseline] > 0 {
		fmt.Fprintf(w, "proxy/baseline: requests/s %.2fx, CPU/request %.2fx\n", rps[proxy]/rps[baseline], cpu[proxy]/cpu[baseline])
	}
	if cpu[haproxy] > 0 && cpu[nginx] > 0 {
		fmt.Fprintf(w, "proxy/HAProxy CPU/request: %.2fx (target <= 1.00x); proxy/nginx: %.2fx\n", cpu[proxy]/cpu[haproxy], cpu[proxy]/cpu[nginx])
	}
	fmt.Fprintf(w, "p99 at the fixed rate: proxy %.3f ms, nginx %.3f ms, HAProxy %.3f ms, direct %.3f ms (target: proxy <= nginx)\n",
		p99[proxy], p99[nginx], p99[haproxy], p99[direct])
}
