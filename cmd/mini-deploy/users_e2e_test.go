package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator"
)

// testUser creates a Unix user for the test with useradd, removed with
// userdel when the test ends. It needs root: without it the test cannot
// be two users, so it skips, except under CI=true, where it fails.
func testUser(t *testing.T) *user.User {
	t.Helper()
	if os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test creates a second Unix user with useradd: run it as root")
		}
		t.Skip("creating a second Unix user needs root")
	}
	if _, err := exec.LookPath("useradd"); err != nil {
		t.Fatal("useradd is missing: install the passwd package (apt-get install passwd)")
	}
	name := fmt.Sprintf("mdt%d", os.Getpid())
	out, err := exec.Command("useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--user-group", name).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
	})
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// userHomeFor makes a $HOME for uid/gid that it may use and that the test
// can remove.
func userHomeFor(t *testing.T, uid, gid int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mdu")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return dir
}

// defaultHomeE2E is a user's daemon of its default state directory,
// $HOME/.mini-deploy, as two users of one machine each have.
func defaultHomeE2E(t *testing.T, uid, gid int, as *syscall.Credential) *e2e {
	t.Helper()
	userHome := userHomeFor(t, uid, gid)
	home := filepath.Join(userHome, ".mini-deploy")
	instance, network := instanceFor(uid, home)
	return startE2E(t, &e2e{home: home, instance: instance, network: network, userHome: userHome, as: as})
}

// Two users of one Docker engine, each with the default state directory,
// apply the same manifests: neither daemon sees, adopts nor removes the
// other's containers, and down in one leaves the other's running.
func TestE2ETwoUsersOneEngine(t *testing.T) {
	u := testUser(t)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	sock, err := os.Stat("/var/run/docker.sock")
	if err != nil && os.Getenv("DOCKER_HOST") == "" {
		t.Fatalf("the second user reaches the engine through /var/run/docker.sock: %v", err)
	}
	var groups []uint32
	if err == nil {
		groups = []uint32{sock.Sys().(*syscall.Stat_t).Gid}
	}
	// The binary's directory is private to the test; the second user runs
	// it too.
	if _, err := e2eBinary(); err == nil {
		os.Chmod(e2eDir, 0o755)
	}
	a := defaultHomeE2E(t, os.Getuid(), os.Getgid(), nil)
	b := defaultHomeE2E(t, uid, gid, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups})

	manifest, err := filepath.Abs(seedRCv1)
	if err != nil {
		t.Fatal(err)
	}
	a.up(manifest, "replicationcontroller/kubia-v1 created", "replicationcontroller/kubia-v1 ready (3/3)")
	aPods := a.waitPods(3, "user A's 3 pods ready", nil)
	aIDs := containerIDs(t, aPods)

	b.up(manifest, "replicationcontroller/kubia-v1 created", "replicationcontroller/kubia-v1 ready (3/3)")
	bPods := b.waitPods(3, "user B's 3 pods ready", nil)
	bIDs := containerIDs(t, bPods)
	if got := processUID(t, b.daemonPID()); got != uid {
		t.Fatalf("user B's daemon runs as uid %d, want %d", got, uid)
	}

	aInst, bInst := instanceIn(t, a), instanceIn(t, b)
	if aInst == bInst || aInst == orchestrator.DefaultInstance || bInst == orchestrator.DefaultInstance {
		t.Errorf("instances: user A %q, user B %q; want two of their own", aInst, bInst)
	}
	// Neither sees the other's pods: B made 3 of its own rather than
	// adopting A's.
	for name, id := range bIDs {
		if slices.Contains(slices.Collect(maps.Values(aIDs)), id) {
			t.Errorf("user B's pod %s is user A's container %s", name, id)
		}
	}
	// What each daemon shows is exactly its own containers on the engine.
	for _, who := range []struct {
		name string
		e    *e2e
		ids  map[string]string
	}{{"A", a, aIDs}, {"B", b, bIDs}} {
		ctrs := who.e.containers()
		var onEngine []string
		for _, c := range ctrs {
			onEngine = append(onEngine, "docker://"+c.ID)
		}
		slices.Sort(onEngine)
		shown := slices.Collect(maps.Values(who.ids))
		slices.Sort(shown)
		if !slices.Equal(onEngine, shown) {
			t.Errorf("user %s: get pods shows %v, the engine has %v of its instance", who.name, shown, onEngine)
		}
	}
	// A's pods are untouched by B's daemon: the same containers, still its.
	if got := containerIDs(t, a.pods()); !maps.Equal(got, aIDs) {
		t.Errorf("user A's pods changed when user B came: %v, were %v", got, aIDs)
	}

	out := b.ok("down")
	if !strings.Contains(out, "stopped; everything it made is removed") {
		t.Errorf("user B's down: %q", out)
	}
	if n := len(b.containers()); n != 0 {
		t.Errorf("user B's down left %d of its containers", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, id := range aIDs {
		c, err := a.engine.Inspect(ctx, strings.TrimPrefix(id, "docker://"))
		if err != nil || !c.Running() {
			t.Errorf("user A's pod %s (%s) after user B's down: %v running=%v", name, id, err, err == nil && c.Running())
		}
	}
	if nets, err := b.engine.ListNetworks(ctx, b.match()); err != nil || len(nets) != 0 {
		t.Errorf("user B's networks after its down: %v %v", nets, err)
	}
	if nets, err := a.engine.ListNetworks(ctx, a.match()); err != nil || len(nets) != 1 || nets[0].Name != a.network {
		t.Errorf("user A's network after user B's down: %v %v, want %s", nets, err, a.network)
	}
	if got := containerIDs(t, a.waitPods(3, "user A's 3 pods still ready", nil)); !maps.Equal(got, aIDs) {
		t.Errorf("user A's pods after user B's down: %v, were %v", got, aIDs)
	}
}

// instanceIn is the instance the daemon of e chose, as kept in its home.
func instanceIn(t *testing.T, e *e2e) string {
	t.Helper()
	name, err := readInstance(e.home)
	if err != nil || name == "" {
		t.Fatalf("instance of %s: %q %v", e.home, name, err)
	}
	if name != e.instance {
		t.Errorf("the daemon of %s chose instance %q, want %q", e.home, name, e.instance)
	}
	return name
}

// processUID is the real uid of a running process.
func processUID(t *testing.T, pid int) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			uid, _ := strconv.Atoi(f[1])
			return uid
		}
	}
	t.Fatalf("process %d: no Uid in its status", pid)
	return -1
}
