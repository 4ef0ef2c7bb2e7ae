package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestRunBrokenExitsAtOnce(t *testing.T) {
	old := mode
	mode = "broken"
	t.Cleanup(func() { mode = old })

	var stderr strings.Builder
	start := time.Now()
	code := run(context.Background(), func(string) string { return "" }, &stderr)
	if code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	// It must not start serving first: that would run until cancelled.
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("broken build took %v to exit", d)
	}
	if !strings.Contains(stderr.String(), "broken") {
		t.Fatalf("stderr %q does not say why", stderr.String())
	}
}

func TestRunRejectsBadEnv(t *testing.T) {
	var stderr strings.Builder
	env := func(k string) string {
		if k == "KUBIA_START_DELAY" {
			return "later"
		}
		return ""
	}
	if code := run(context.Background(), env, &stderr); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "KUBIA_START_DELAY") {
		t.Fatalf("stderr %q does not name the variable", stderr.String())
	}
}

func TestRunStopsDuringStartDelay(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	env := func(k string) string {
		switch k {
		case "KUBIA_START_DELAY":
			return "1h"
		case "PORT":
			return "0"
		}
		return ""
	}
	done := make(chan int, 1)
	var stderr strings.Builder
	go func() { done <- run(ctx, env, &stderr) }()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d, want 0", code)
		}
	case <-time.After(time.Second):
		t.Fatal("a signal during the start delay did not stop the app")
	}
}
