package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

func TestUpAppliesWaitsAndPrintsURLs(t *testing.T) {
	home := daemon(t, newFake())
	file := filepath.Join(t.TempDir(), "kubia.yaml")
	os.WriteFile(file, []byte(rcManifest), 0o644)
	out, errOut, code := cli(t, home, "up", "-f", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	expect(t, "up", out, `
replicationcontroller/kubia-v1 created
service/kubia created
replicationcontroller/kubia-v1 ready (3/3)
service/kubia: http://127.0.0.1:30123
`)
	out, _, code = cli(t, home, "up")
	if code != 0 || out != "service/kubia: http://127.0.0.1:30123\n" {
		t.Errorf("up without files: %d %q", code, out)
	}
}

// A URL whose port another program holds is never shown as working.
func TestUpWarnsOfAPortNotServed(t *testing.T) {
	fb := newFake(kubiaSvc())
	fb.notServing = []server.PortProblem{{Namespace: "default", Name: "kubia", NodePort: 30123,
		Error: `service "kubia": listen on 127.0.0.1:30123: address already in use by another program: stop it, or pick another nodePort`}}
	home := daemon(t, fb)
	out, _, code := cli(t, home, "up")
	expect(t, "up", out, `
service/kubia: http://127.0.0.1:30123
  warning: node port 30123 is not served: service "kubia": listen on 127.0.0.1:30123: address already in use by another program: stop it, or pick another nodePort (the daemon keeps trying)
`)
	if code != 0 {
		t.Errorf("up without files: exit %d", code)
	}
	// An up that applied the Service exits 1: its URL does not work.
	file := filepath.Join(t.TempDir(), "kubia.yaml")
	os.WriteFile(file, []byte(rcManifest), 0o644)
	_, errOut, code := cli(t, home, "up", "-f", file)
	if code != 1 || !strings.HasSuffix(errOut, "error: service/kubia: node port 30123 is not served: service \"kubia\": listen on 127.0.0.1:30123: address already in use by another program: stop it, or pick another nodePort\n") {
		t.Errorf("up -f with a port not served: exit %d, stderr %q", code, errOut)
	}
}

func TestUpStartsDaemonWhenNoneAnswers(t *testing.T) {
	home := t.TempDir()
	g := &globalOptions{home: home, namespace: "default", out: &strings.Builder{}, errOut: &strings.Builder{}}
	o := &upOptions{globalOptions: g}
	started := 0
	o.startDaemon = func(ctx context.Context, g *globalOptions, f daemonFlags) error {
		started++
		return nil
	}
	c := g.client()
	if err := ensureDaemon(context.Background(), o, c); err != nil || started != 1 {
		t.Fatalf("ensureDaemon = %v, started %d", err, started)
	}
}

func TestTail(t *testing.T) {
	f := filepath.Join(t.TempDir(), "daemon.log")
	os.WriteFile(f, []byte("a\nb\nc\n"), 0o600)
	if got := tail(f, 2); got != "  b\n  c" {
		t.Errorf("tail = %q", got)
	}
}
