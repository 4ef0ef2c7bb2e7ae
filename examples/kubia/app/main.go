// Command kubia is the example application of mini-deploy: a tiny HTTP server
// like luksa/kubia from "Kubernetes in Action". Every path answers
//
//	This is v1 running in pod <hostname>
//
// so a curl loop shows which version and which pod served each request.
// A request other than GET or HEAD carrying X-Request-Id is logged to stdout
// as "acted on METHOD PATH id=ID" (the chaos test counts them per pod).
// /healthz answers "ok" for probes, and /ws is a WebSocket that greets with
// the same line and echoes every message, to show WebSockets through a
// Service during a rollout.
//
// The version and the mode are set at build time:
//
//	go build -ldflags "-X main.version=v2" ./examples/kubia/app
//	go build -ldflags "-X main.mode=broken" ./examples/kubia/app
//
// `kubia print N` writes N bytes of text to stdout and exits: a command to
// exec in a pod that prints a lot (tests of streaming and memory bounds).
//
// Environment:
//
//	PORT                  port to listen on (default 8080)
//	KUBIA_START_DELAY     Go duration to wait before listening (tests readiness)
//	KUBIA_RESPONSE_DELAY  Go duration to wait before each answer (tests draining)
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Set with -ldflags "-X main.version=... -X main.mode=...".
var (
	version = "v1"
	mode    = ""
)

const (
	// DefaultPort is where luksa/kubia listens and what the seed's Service targets.
	DefaultPort = "8080"
	// DefaultShutdownTimeout bounds how long in-flight requests may run after
	// SIGTERM. It stays below the 30 s termination grace period Kubernetes and
	// mini-deploy use by default, so the app exits before it would be killed.
	DefaultShutdownTimeout = 25 * time.Second
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "print" {
		os.Exit(printBytes(os.Stdout, os.Args[2]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		// After the first signal, restore the default handlers so that a second
		// one kills the process instead of waiting for the drain.
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Getenv, os.Stderr))
}

// run starts the server and blocks until ctx is cancelled and the server has
// drained. It returns the process exit code.
func run(ctx context.Context, getenv func(string) string, stderr io.Writer) int {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	if mode == "broken" {
		fmt.Fprintf(stderr, "kubia %s: this is the broken build, exiting\n", version)
		return 1
	}
	if mode != "" {
		fmt.Fprintf(stderr, "kubia: unknown mode %q\n", mode)
		return 2
	}
	cfg, err := configFromEnv(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "kubia: %v\n", err)
		return 2
	}
	hostname, err := os.Hostname()
	if err != nil {
		fmt.Fprintf(stderr, "kubia: hostname: %v\n", err)
		return 1
	}

	if cfg.StartDelay > 0 {
		logger.Info("delaying start", "delay", cfg.StartDelay)
		select {
		case <-time.After(cfg.StartDelay):
		case <-ctx.Done():
			logger.Info("stopped before listening")
			return 0
		}
	}

	ln, err := net.Listen("tcp", ":"+cfg.Port)
	if err != nil {
		fmt.Fprintf(stderr, "kubia: %v\n", err)
		return 1
	}
	logger.Info("kubia server starting", "version", version, "pod", hostname, "address", ln.Addr().String())
	h := newHandler(version, hostname, cfg.ResponseDelay)
	if err := serve(ctx, ln, h, DefaultShutdownTimeout, logger); err != nil {
		logger.Error("server stopped", "error", err)
		return 1
	}
	logger.Info("server stopped")
	return 0
}

type config struct {
	Port          string
	StartDelay    time.Duration
	ResponseDelay time.Duration
}

func configFromEnv(getenv func(string) string) (config, error) {
	cfg := config{Port: DefaultPort}
	if p := getenv("PORT"); p != "" {
		cfg.Port = p
	}
	var err error
	if cfg.StartDelay, err = durationEnv(getenv, "KUBIA_START_DELAY"); err != nil {
		return config{}, err
	}
	if cfg.ResponseDelay, err = durationEnv(getenv, "KUBIA_RESPONSE_DELAY"); err != nil {
		return config{}, err
	}
	return cfg, nil
}

func durationEnv(getenv func(string) string, name string) (time.Duration, error) {
	s := getenv(name)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s: negative duration %s", name, s)
	}
	return d, nil
}

// printBytes writes n bytes of lines of x to w.
func printBytes(w io.Writer, n string) int {
	size, err := strconv.ParseInt(n, 10, 64)
	if err != nil || size < 0 {
		fmt.Fprintf(os.Stderr, "kubia print: %q is not a byte count\n", n)
		return 2
	}
	line := []byte(strings.Repeat("x", 63) + "\n")
	buf := bytes.Repeat(line, 512) // 32 KiB
	for size > 0 {
		k := min(size, int64(len(buf)))
		if _, err := w.Write(buf[:k]); err != nil {
			return 1
		}
		size -= k
	}
	return 0
}
