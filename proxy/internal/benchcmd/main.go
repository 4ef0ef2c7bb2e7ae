// Command benchcmd measures the Service proxy against a pod reached directly
// and against nginx and HAProxy, on the same backends, interleaved so that
// all of them see the same machine. proxy/bench.sh starts the backends and
// the peers and runs it; it is a benchmark, not a test.
//
//	benchcmd run -backends ip:port,ip:port,ip:port -nginx 127.0.0.1:port -nginx-pid PID \
//	    -haproxy 127.0.0.1:port -haproxy-pid PID
//	benchcmd serve -backends ... (the proxy under test, in its own process)
//
// The proxy runs in a child process so that its CPU time, read from /proc,
// is its own and not the load generator's.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mini-deploy/mini-deploy/proxy"
)

func main() {
	log.SetFlags(0)
	if len(os.Args) < 2 {
		log.Fatal("usage: benchcmd run|serve [flags]")
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2:])
	case "run":
		run(os.Args[2:])
	case "freeport":
		freePort()
	default:
		log.Fatalf("benchcmd: unknown command %q", os.Args[1])
	}
}

func endpoints(list string) []proxy.Endpoint {
	var eps []proxy.Endpoint
	for i, a := range strings.Split(list, ",") {
		eps = append(eps, proxy.Endpoint{Pod: fmt.Sprintf("kubia-%d", i), Addr: a, Revision: "bench"})
	}
	return eps
}

// serve runs the proxy until SIGTERM or stdin closes, printing its address.
func serve(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	backends := fs.String("backends", "", "comma-separated ip:port of the pods")
	cpuprofile := fs.String("cpuprofile", "", "write the proxy's CPU profile to this file")
	procs := fs.Int("procs", 0, "GOMAXPROCS of the proxy; 0: the Go default")
	fs.Parse(args)
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	p := proxy.New(proxy.Options{Service: "bench", Listen: "127.0.0.1:0"})
	if err := p.Start(); err != nil {
		log.Fatal(err)
	}
	p.SetEndpoints(endpoints(*backends))
	fmt.Println(p.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() { // the parent closing our stdin means it is gone
		bufio.NewReader(os.Stdin).ReadString('\n')
		stop()
	}()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.Shutdown(sctx)
}

// freePort prints a loopback port nobody listens on, for nginx.
func freePort() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
}

type subject struct {
	name string
	addr string
	pids func() []int // processes whose CPU time is this subject's; nil: not measured
}

func run(args []string) {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	backends := fs.String("backends", "", "comma-separated ip:port of the pods")
	nginxAddr := fs.String("nginx", "", "address of nginx proxying to the same pods")
	nginxPID := fs.Int("nginx-pid", 0, "nginx master's PID, to read its workers' CPU time")
	haproxyAddr := fs.String("haproxy", "", "address of HAProxy proxying to the same pods")
	haproxyPID := fs.Int("haproxy-pid", 0, "HAProxy's PID")
	duration := fs.Duration("duration", 5*time.Second, "length of each closed-loop and open-loop run")
	connList := fs.String("conns", "50,200", "connections in the closed loops, comma-separated")
	rate := fs.Int("rate", 1000, "requests/s in the open loop")
	rounds := fs.Int("rounds", 3, "interleaved rounds")
	cpuprofile := fs.String("cpuprofile", "", "write the proxy's CPU profile to this file")
	baseline := fs.String("baseline", "", "a benchcmd built from another commit: its proxy is measured too, in the same rounds")
	procs := fs.Int("procs", 1, "GOMAXPROCS of the proxy under test, 1 as the data plane runs it; 0: the Go default (all CPUs)")
	otherProcs := fs.Int("other-procs", -1, "also measure the proxy under test with this GOMAXPROCS (0: all CPUs), after the baseline")
	fs.Parse(args)
	eps := endpoints(*backends)
	if len(eps) == 0 || *nginxAddr == "" || *haproxyAddr == "" {
		log.Fatal("benchcmd run: -backends, -nginx and -haproxy are required")
	}
	var conns []int
	for f := range strings.SplitSeq(*connList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			log.Fatalf("benchcmd run: -conns %q: want positive numbers, comma-separated", *connList)
		}
		conns = append(conns, n)
	}

	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	serveArgs := []string{"serve", "-backends", *backends, "-procs", strconv.Itoa(*procs)}
	if *cpuprofile != "" {
		serveArgs = append(serveArgs, "-cpuprofile", *cpuprofile)
	}
	proxyAddr, proxyPID, stopProxy := startServe(self, serveArgs)
	defer stopProxy()

	subjects := []subject{
		{name: "direct to 1 pod", addr: eps[0].Addr},
		{name: proxyName(*procs), addr: proxyAddr, pids: func() []int { return []int{proxyPID} }},
		{name: "nginx, 1 worker", addr: *nginxAddr, pids: func() []int { return withChildren(*nginxPID) }},
		{name: "HAProxy, 1 thread", addr: *haproxyAddr, pids: func() []int { return withChildren(*haproxyPID) }},
	}
	if *baseline != "" {
		addr, pid, stop := startServe(*baseline, []string{"serve", "-backends", *backends, "-procs", strconv.Itoa(*procs)})
		defer stop()
		subjects = append(subjects, subject{name: "baseline proxy", addr: addr, pids: func() []int { return []int{pid} }})
	}
	if *otherProcs >= 0 {
		addr, pid, stop := startServe(self, []string{"serve", "-backends", *backends, "-procs", strconv.Itoa(*otherProcs)})
		defer stop()
		subjects = append(subjects, subject{name: proxyName(*otherProcs), addr: addr, pids: func() []int { return []int{pid} }})
	}
	fmt.Printf("backends: %s\nCPUs: %d; %d rounds, interleaved; closed loops of %s connections x %s; open loop %d req/s x %s\n\n",
		*backends, numCPU(), *rounds, *connList, *duration, *rate, *duration)

	for _, s := range subjects { // warm pools and JITs
		closedLoop(s.addr, conns[0], time.Second)
	}
	results := make([]result, len(subjects))
	for k := range results {
		results[k].closed = make([][]closedResult, len(conns))
	}
	for r := range *rounds {
		for ci, n := range conns {
			for i := range subjects {
				k := (i + r) % len(subjects) // rotate so no subject always runs first
				s := subjects[k]
				cpu0 := cpuTicks(s.pids)
				cl := closedLoop(s.addr, n, *duration)
				cpu := cpuTicks(s.pids) - cpu0
				results[k].closed[ci] = append(results[k].closed[ci], cl)
				if s.pids != nil && cl.ok > 0 && ci == 0 {
					results[k].cpuPerReq = append(results[k].cpuPerReq, time.Duration(cpu)*10*time.Millisecond/time.Duration(cl.ok))
				}
				if s.pids != nil {
					results[k].rss = max(results[k].rss, rssBytes(s.pids))
				}
				fmt.Printf("round %d  %-18s closed loop, %3d conns: %8.0f req/s  (%d errors)\n", r+1, s.name, n, cl.rps(), cl.errors)
			}
		}
		for i := range subjects {
			k := (i + r) % len(subjects)
			s := subjects[k]
			ol := openLoop(s.addr, *rate, *duration)
			results[k].open = append(results[k].open, ol)
			fmt.Printf("round %d  %-18s open loop:   p50 %6.3f ms  p99 %6.3f ms  (%d errors)\n", r+1, s.name, ms(ol.p50), ms(ol.p99), ol.errors)
		}
	}
	report(subjects, conns, results)
}

// proxyName names the proxy under test by its GOMAXPROCS.
func proxyName(procs int) string {
	if procs <= 0 {
		return "mini-deploy, all CPUs"
	}
	return fmt.Sprintf("mini-deploy, %d P", procs)
}

// startServe runs "bin serve ..." (the proxy under test in a process of its
// own) and returns its address, its PID and how to stop it.
func startServe(bin string, args []string) (addr string, pid int, stop func()) {
	cmd := exec.Command(bin, args...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		stdin.Close()
		cmd.Wait()
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		log.Fatalf("benchcmd: the proxy %s did not start: %v", bin, err)
	}
	return strings.TrimSpace(line), cmd.Process.Pid, stop
}
