// Package dockertest gates and tidies the project's integration tests on the
// real Docker engine. Where no engine answers they skip with a message,
// except under CI=true, where they fail: CI must never pass by skipping.
package dockertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	rt "github.com/mini-deploy/mini-deploy/runtime"
	"github.com/mini-deploy/mini-deploy/runtime/docker"
	"github.com/mini-deploy/mini-deploy/runtime/runtimetest"
)

// SessionKey labels every resource an integration test creates with the
// test's session, so that Cleanup (or `make clean`) finds leftovers.
const SessionKey = runtimetest.SessionLabel

// pingTimeout bounds the wait for the engine; an engine that is up answers
// a ping in milliseconds.
const pingTimeout = 5 * time.Second

// Require returns an engine that answers, closed when the test ends. When
// none answers the test is skipped, or failed under CI=true.
func Require(t testing.TB) *docker.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	e, err := docker.New(ctx)
	if err == nil {
		if err = e.Ping(ctx); err != nil {
			e.Close()
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Docker engine not reachable and CI=true: integration tests must not skip: %v", err)
		}
		t.Skipf("Docker engine not reachable, skipping integration test (set CI=true to fail instead): %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// RequireImages fails the test when one of refs is not on the engine: the
// project's images are built locally, never pulled.
func RequireImages(t testing.TB, e *docker.Engine, refs ...string) {
	t.Helper()
	for _, ref := range refs {
		ok, err := e.ImageExists(context.Background(), ref)
		if err != nil {
			t.Fatalf("checking image %s: %v", ref, err)
		}
		if !ok {
			t.Fatalf("image %s missing: run `make images`", ref)
		}
	}
}

// SessionLabel returns a label unique to this test, for every container and
// network it creates.
func SessionLabel(t testing.TB) (key, value string) {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return SessionKey, hex.EncodeToString(b)
}

// Cleanup removes, when the test ends, every managed container and network
// labelled key=value, even if the test failed. Register it before creating
// anything, so that it runs after the test's own cleanups.
func Cleanup(t testing.TB, e *docker.Engine, key, value string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := RemoveMatching(ctx, e, map[string]string{key: value}); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}

// RemoveMatching removes the managed containers (at once), then the
// networks, carrying every label of match, and names what it removed. What is
// already gone is not an error. It is the one cleanup of every test on the
// real engine: the runtime's, the test kit's and the CLI's end-to-end tests.
func RemoveMatching(ctx context.Context, e *docker.Engine, match map[string]string) (removed []string, err error) {
	var mu sync.Mutex
	var errs []error
	note := func(name string, err error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			removed = append(removed, name)
		case !errors.Is(err, rt.ErrNotFound):
			errs = append(errs, err)
		}
	}
	containers, err := e.List(ctx, match)
	if err != nil {
		errs = append(errs, fmt.Errorf("list containers %v: %w", match, err))
	}
	var wg sync.WaitGroup
	for _, c := range containers {
		wg.Go(func() {
			if err := e.Remove(ctx, c.ID); err != nil {
				err = fmt.Errorf("remove container %s: %w", c.Name, err)
			}
			note("container "+c.Name, err)
		})
	}
	wg.Wait()
	networks, err := e.ListNetworks(ctx, match)
	if err != nil {
		errs = append(errs, fmt.Errorf("list networks %v: %w", match, err))
	}
	for _, n := range networks {
		if err := e.RemoveNetwork(ctx, n.Name); err != nil {
			err = fmt.Errorf("remove network %s: %w", n.Name, err)
		}
		note("network "+n.Name, err)
	}
	return removed, errors.Join(errs...)
}
