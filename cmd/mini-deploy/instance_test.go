package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	rt "github.com/mini-deploy/mini-deploy/runtime"
	"github.com/mini-deploy/mini-deploy/runtime/fake"
)

// engineWith lists the given containers, as the engine's label filter
// would.
type engineWith []rt.Container

func (e engineWith) List(ctx context.Context, match map[string]string) ([]rt.Container, error) {
	var out []rt.Container
	for _, c := range e {
		ok := true
		for k, v := range match {
			ok = ok && c.Labels[k] == v
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

func podOf(instance, ownerUID string) rt.Container {
	return rt.Container{ID: "c-" + ownerUID, Labels: map[string]string{
		orchestrator.LabelInstance: instance, orchestrator.LabelOwnerUID: ownerUID}}
}

// openStore opens the store of home holding one ReplicationController and
// returns it and that controller's UID.
func openStore(t *testing.T, home string) (*store.Store, string) {
	t.Helper()
	st, err := store.Open(home, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	obj, err := st.Create(kubiaRC("kubia-v1", "kubia"))
	if err != nil {
		t.Fatal(err)
	}
	return st, obj.Meta().UID
}

// The instance is a function of the user and the directory: two users with
// the same path, or one user with two paths, never share one.
func TestInstanceIsUniquePerUserAndDirectory(t *testing.T) {
	a, an := instanceFor(1000, "/home/x/.mini-deploy")
	b, _ := instanceFor(1001, "/home/x/.mini-deploy")
	c, _ := instanceFor(1000, "/home/x/other")
	if a == b || a == c || b == c {
		t.Errorf("instances %q %q %q are not distinct", a, b, c)
	}
	if !newInstance.MatchString(a) || !strings.HasPrefix(a, "u1000-") || an != "mini-deploy-"+a {
		t.Errorf("instance %q network %q", a, an)
	}
	if again, _ := instanceFor(1000, "/home/x/.mini-deploy"); again != a {
		t.Errorf("instanceFor is not stable: %q then %q", a, again)
	}
}

// A user's ~/.mini-deploy is no longer "default": two users' daemons of
// their default homes have different instances.
func TestDefaultHomeIsNotTheSharedDefaultInstance(t *testing.T) {
	userHome := t.TempDir()
	t.Setenv("HOME", userHome)
	home := filepath.Join(userHome, ".mini-deploy")
	if inst, network := instanceOf(home); inst == orchestrator.DefaultInstance || network == orchestrator.DefaultNetwork {
		t.Errorf("instanceOf(~/.mini-deploy) = %s on %s, shared by every user of the engine", inst, network)
	}
}

// A new state directory takes the new name and keeps it.
func TestResolveInstanceOfANewHome(t *testing.T) {
	home := t.TempDir()
	st, _ := openStore(t, home)
	inst, network, err := resolveInstance(context.Background(), home, false, st, engineWith{podOf("default", "x")})
	want, wantNet := instanceOf(home)
	if err != nil || inst != want || network != wantNet {
		t.Fatalf("resolveInstance = %q %q %v, want %q %q", inst, network, err, want, wantNet)
	}
	if b, _ := os.ReadFile(filepath.Join(home, instanceName)); string(b) != want+"\n" {
		t.Errorf("instance file holds %q", b)
	}
}

// The migration: the ~/.mini-deploy an old version ran as "default" keeps
// that name, and its pods, when the "default" containers are its own; the
// ~/.mini-deploy of another user, whose store does not own them, does not.
func TestResolveInstanceMigratesTheDefaultInstanceForItsOwnerOnly(t *testing.T) {
	userHome := t.TempDir()
	t.Setenv("HOME", userHome)
	home := filepath.Join(userHome, ".mini-deploy")
	st, uid := openStore(t, home)
	engine := engineWith{podOf("default", uid), podOf("default", "someone-elses")}
	inst, network, err := resolveInstance(context.Background(), home, true, st, engine)
	if err != nil || inst != orchestrator.DefaultInstance || network != orchestrator.DefaultNetwork {
		t.Fatalf("owner's legacy home: %q %q %v, want default on mini-deploy", inst, network, err)
	}
	// Kept: the next daemon does not decide again.
	inst, _, err = resolveInstance(context.Background(), home, true, st, engineWith{})
	if err != nil || inst != orchestrator.DefaultInstance {
		t.Errorf("second resolve: %q %v, want default", inst, err)
	}

	otherUserHome := t.TempDir()
	t.Setenv("HOME", otherUserHome)
	other := filepath.Join(otherUserHome, ".mini-deploy")
	ost, _ := openStore(t, other)
	inst, network, err = resolveInstance(context.Background(), other, true, ost, engine)
	want, wantNet := instanceOf(other)
	if err != nil || inst != want || network != wantNet {
		t.Errorf("another user's legacy home: %q %q %v, want its own %q %q", inst, network, err, want, wantNet)
	}
}

// An old version named any other directory after its path: it keeps that
// name when the containers are its own.
func TestResolveInstanceMigratesAPathNamedInstance(t *testing.T) {
	home := t.TempDir()
	st, uid := openStore(t, home)
	legacy := legacyInstanceOf(home)
	inst, network, err := resolveInstance(context.Background(), home, true, st, engineWith{podOf(legacy, uid)})
	if err != nil || inst != legacy || network != "mini-deploy-"+strings.TrimPrefix(legacy, "home-") {
		t.Errorf("resolveInstance = %q %q %v, want %q", inst, network, err, legacy)
	}
}

func TestResolveInstanceRefusesAForeignName(t *testing.T) {
	home := t.TempDir()
	st, _ := openStore(t, home)
	os.WriteFile(filepath.Join(home, instanceName), []byte("test-123\n"), 0o600)
	_, _, err := resolveInstance(context.Background(), home, true, st, engineWith{})
	if err == nil || !strings.Contains(err.Error(), `holds "test-123"`) || !strings.Contains(err.Error(), "remove the file") {
		t.Errorf("resolveInstance with a foreign name = %v", err)
	}
}

// A directory that kept the shared old name "default" sees only the
// containers made for its own owners: another user's "default" containers
// are neither listed nor inspected, so never adopted nor removed; its own
// stay visible after their owner is deleted, until they are stopped.
func TestOwnContainersHidesAnotherDirectorysDefaultContainers(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	st, uid := openStore(t, home)
	engine := fake.New()
	engine.AddImage("kubia")
	create := func(owner string) string {
		id, err := engine.Create(ctx, rt.ContainerSpec{Name: "pod-" + owner, Image: "kubia", Labels: map[string]string{
			orchestrator.LabelInstance: orchestrator.DefaultInstance, orchestrator.LabelOwnerUID: owner}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	mine, theirs := create(uid), create("another-users-rc")
	r := newOwnContainers(engine, st)
	listed := func() []string {
		ctrs, err := r.List(ctx, map[string]string{orchestrator.LabelInstance: orchestrator.DefaultInstance})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range ctrs {
			ids = append(ids, c.ID)
		}
		return ids
	}
	if got := listed(); len(got) != 1 || got[0] != mine {
		t.Errorf("List = %v, want only this directory's %s", got, mine)
	}
	if _, err := r.Inspect(ctx, theirs); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("Inspect(another's) = %v, want ErrNotFound", err)
	}
	if c, err := r.Inspect(ctx, mine); err != nil || c.ID != mine {
		t.Errorf("Inspect(mine) = %v %v", c.ID, err)
	}
	if _, err := st.Delete(api.Key{Kind: api.KindReplicationController, Namespace: "default", Name: "kubia-v1"}, ""); err != nil {
		t.Fatal(err)
	}
	if got := listed(); len(got) != 1 || got[0] != mine {
		t.Errorf("after its owner's deletion List = %v, want %s still, until it is stopped", got, mine)
	}
}
