package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

func TestDownWithoutDaemonOrStateDoesNothing(t *testing.T) {
	home := t.TempDir()
	out, errOut, code := cli(t, home, "down")
	if code != 0 || !strings.Contains(out, "nothing to do") {
		t.Errorf("down = %d %q %q", code, out, errOut)
	}
}

// A daemon that died leaves state behind; down starts one, with the default
// flags, to clean up.
func TestDownStartsDaemonForLeftState(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, store.DBFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	g := &globalOptions{home: home, namespace: "default", out: &out, errOut: &errOut}
	var got *daemonFlags
	errStop := errors.New("stop here")
	o := &downOptions{globalOptions: g, startDaemon: func(ctx context.Context, g *globalOptions, f daemonFlags) error {
		got = &f
		return errStop
	}}
	if err := runDown(context.Background(), o); !errors.Is(err, errStop) {
		t.Fatalf("runDown = %v", err)
	}
	if got == nil || got.address != orchestrator.DefaultAddress || got.metricsAddress != DefaultMetricsAddress {
		t.Errorf("daemon started with %+v", got)
	}
}

// corruptStore overwrites both meta pages of home's state.db, where the
// database finds everything else.
func corruptStore(t *testing.T, home string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(home, store.DBFile), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte(strings.Repeat("garbage!", 1024))); err != nil {
		t.Fatal(err)
	}
}

// A daemon cannot start from a corrupt store, and says what to do.
func TestDaemonOnACorruptStoreSaysRunDown(t *testing.T) {
	noEngine(t)
	home := t.TempDir()
	corruptStore(t, home)
	_, errOut, code := cli(t, home, "daemon")
	if code != 1 || !strings.Contains(errOut, filepath.Join(home, store.DBFile)+" is corrupt") || !strings.Contains(errOut, `"mini-deploy down" removes`) {
		t.Errorf("daemon on a corrupt store: exit %d %q", code, errOut)
	}
}
