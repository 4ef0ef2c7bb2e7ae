// Package runtimetest is the contract suite every runtime.Runtime must pass:
// runtime/docker against the real engine and runtime/fake in memory run the
// same tests, so a controller tested on the fake behaves the same on Docker.
//
// The suite runs HelperImage (see BuildHelper) in every container and
// labels everything it creates with a session label, removing it in
// t.Cleanup even when a test fails.
//
// The file is long (over the project's ~500 lines) because it is a list of
// cases, one function each, that reads top to bottom as the contract.
package runtimetest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// SessionLabel carries a random value per test run on every resource a test
// creates, so that leftovers of a crashed run can be found and removed.
const SessionLabel = "mini-deploy.io/session"

// Options adapt the suite to one implementation.
type Options struct {
	// AddForeign starts a container of HelperImage without
	// runtime.ManagedLabel, carrying labels, and removes it in t.Cleanup.
	// It must bypass the Runtime (raw engine client, fake.AddForeign).
	AddForeign func(t *testing.T, labels map[string]string) (id string)
	// IsRunning reports whether any container, managed or not, runs.
	IsRunning func(t *testing.T, id string) bool
	// AddForeignNetwork, when set, creates a network without
	// runtime.ManagedLabel and removes it in t.Cleanup.
	AddForeignNetwork func(t *testing.T, name string)
	// RemoveImage, when set, removes an image the suite built.
	RemoveImage func(t *testing.T, ref string)
}

// Timeouts of the suite; generous because a loaded engine is slow.
const (
	waitTimeout = 20 * time.Second
	pollEvery   = 20 * time.Millisecond
)

// Run runs the contract suite, its subtests in parallel, on one runtime made
// by newRuntime and closed in t.Cleanup.
func Run(t *testing.T, newRuntime func(t *testing.T) rt.Runtime, opts Options) {
	if opts.AddForeign == nil || opts.IsRunning == nil {
		t.Fatal("runtimetest: Options.AddForeign and Options.IsRunning are required")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, *suite)
	}{
		{"Ping", testPing},
		{"CreateStartInspect", testCreateStartInspect},
		{"Resources", testResources},
		{"StopWithinGrace", testStopWithinGrace},
		{"StopKillsAfterGrace", testStopKillsAfterGrace},
		{"Kill", testKill},
		{"Remove", testRemove},
		{"NotFound", testNotFound},
		{"ImageNotFound", testImageNotFound},
		{"Stats", testStats},
		{"MissingNetwork", testMissingNetwork},
		{"NameConflict", testNameConflict},
		{"PublishPorts", testPublishPorts},
		{"List", testList},
		{"Events", testEvents},
		{"Logs", testLogs},
		{"Exec", testExec},
		{"Networks", testNetworks},
		{"Ownership", testOwnership},
		{"BuildImage", testBuildImage},
	}
	session := randomHex(6)
	r := newRuntime(t)
	t.Cleanup(func() { r.Close() })
	network := "mdtest-" + session
	// Registered before the containers' removals, so it runs after them.
	t.Cleanup(func() { ignoreNotFound(t, r.RemoveNetwork(context.Background(), network)) })
	if _, err := r.EnsureNetwork(t.Context(), network, map[string]string{SessionLabel: session}); err != nil {
		t.Fatalf("EnsureNetwork: %v", err)
	}
	s := &suite{r: r, opts: opts, session: session, network: network}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, s)
		})
	}
}

// suite is what every subtest gets: a runtime and the run's names.
type suite struct {
	r       rt.Runtime
	opts    Options
	session string
	network string
}

// spec returns a container spec for the helper, named uniquely within the
// run, on the run's network and with the session label.
func (s *suite) spec(name string, labels map[string]string) rt.ContainerSpec {
	all := map[string]string{SessionLabel: s.session}
	for k, v := range labels {
		all[k] = v
	}
	return rt.ContainerSpec{
		Name:     "mdtest-" + s.session + "-" + name,
		Image:    HelperImage,
		Labels:   all,
		Hostname: name,
		Network:  s.network,
		Env:      []string{"MDTEST=1"},
	}
}

// create creates a container and registers its removal before checking the
// error, so that nothing is left behind whatever happens.
func (s *suite) create(t *testing.T, spec rt.ContainerSpec) string {
	t.Helper()
	id, err := s.r.Create(t.Context(), spec)
	t.Cleanup(func() {
		ignoreNotFound(t, s.r.Remove(context.Background(), cmp.Or(id, spec.Name)))
	})
	if err != nil {
		t.Fatalf("Create %s: %v", spec.Name, err)
	}
	if id == "" {
		t.Fatalf("Create %s returned an empty ID", spec.Name)
	}
	return id
}

// run creates and starts a container and waits until the helper has
// installed its SIGTERM handler (it logs after that), so that a Stop finds
// it ready: a PID 1 without a handler would ignore SIGTERM.
func (s *suite) run(t *testing.T, spec rt.ContainerSpec) string {
	t.Helper()
	id := s.create(t, spec)
	if err := s.r.Start(t.Context(), id); err != nil {
		t.Fatalf("Start %s: %v", spec.Name, err)
	}
	s.waitLogs(t, id, "helper started")
	return id
}

func (s *suite) inspect(t *testing.T, id string) rt.Container {
	t.Helper()
	c, err := s.r.Inspect(t.Context(), id)
	if err != nil {
		t.Fatalf("Inspect %s: %v", id, err)
	}
	return c
}

// waitLogs waits until the container's logs contain want.
func (s *suite) waitLogs(t *testing.T, id, want string) string {
	t.Helper()
	var got string
	waitFor(t, "logs to contain "+want, func() bool {
		got = s.logs(t, id, rt.LogOptions{})
		return strings.Contains(got, want)
	})
	return got
}

func (s *suite) logs(t *testing.T, id string, opts rt.LogOptions) string {
	t.Helper()
	rc, err := s.r.Logs(t.Context(), id, opts)
	if err != nil {
		t.Fatalf("Logs %s: %v", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading logs of %s: %v", id, err)
	}
	return string(b)
}

func testPing(t *testing.T, s *suite) {
	if err := s.r.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testCreateStartInspect(t *testing.T, s *suite) {
	spec := s.spec("kubia-v1-abcde", map[string]string{"app": "kubia"})
	before := time.Now().Add(-time.Second)
	id := s.create(t, spec)

	c := s.inspect(t, id)
	if c.ID != id || c.Name != spec.Name || c.Image != HelperImage || c.Hostname != spec.Hostname {
		t.Errorf("Inspect after Create = %+v, want ID %s, name %s, image %s, hostname %s",
			c, id, spec.Name, HelperImage, spec.Hostname)
	}
	if c.State != rt.StateCreated || c.Running() {
		t.Errorf("state after Create = %q, want %q", c.State, rt.StateCreated)
	}
	if c.Labels[rt.ManagedLabel] != "true" || c.Labels["app"] != "kubia" || c.Labels[SessionLabel] != s.session {
		t.Errorf("labels = %v, want %s=true, app=kubia and the session label", c.Labels, rt.ManagedLabel)
	}
	if c.CreatedAt.Before(before) {
		t.Errorf("CreatedAt = %v, want after %v", c.CreatedAt, before)
	}
	if byName := s.inspect(t, spec.Name); byName.ID != id {
		t.Errorf("Inspect by name = %s, want %s", byName.ID, id)
	}

	if err := s.r.Start(t.Context(), id); err != nil {
		t.Fatalf("Start: %v", err)
	}
	c = s.inspect(t, id)
	if !c.Running() || c.StartedAt.Before(before) || !c.FinishedAt.IsZero() && c.FinishedAt.After(c.StartedAt) {
		t.Errorf("after Start: state %q, started %v, finished %v; want running since the test began", c.State, c.StartedAt, c.FinishedAt)
	}
	ip, err := netip.ParseAddr(c.IPs[s.network])
	if err != nil {
		t.Fatalf("IP on %s: %v (IPs %v)", s.network, err, c.IPs)
	}
	nets, err := s.r.ListNetworks(t.Context(), map[string]string{SessionLabel: s.session})
	if err != nil {
		t.Fatalf("ListNetworks: %v", err)
	}
	for _, n := range nets {
		if n.Name != s.network {
			continue
		}
		if p, err := netip.ParsePrefix(n.Subnet); err != nil || !p.Contains(ip) {
			t.Errorf("IP %s is not in the network's subnet %q", ip, n.Subnet)
		}
	}
	if err := s.r.Start(t.Context(), id); err != nil {
		t.Errorf("Start of a running container: %v, want nil", err)
	}
}

func testResources(t *testing.T, s *suite) {
	spec := s.spec("limited", nil)
	spec.Resources = rt.Resources{MemoryLimit: 64 << 20, MemoryReservation: 32 << 20, NanoCPUs: 500_000_000, CPUShares: 256}
	id := s.create(t, spec)
	if got := s.inspect(t, id).Resources; got != spec.Resources {
		t.Errorf("Resources after Create = %+v, want %+v", got, spec.Resources)
	}
	if got := s.inspect(t, s.create(t, s.spec("unlimited", nil))).Resources; got != (rt.Resources{}) {
		t.Errorf("Resources of a spec without any = %+v, want none", got)
	}
}

func testStopWithinGrace(t *testing.T, s *suite) {
	id := s.run(t, s.spec("stop", nil))

	start := time.Now()
	if err := s.r.Stop(t.Context(), id, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Stop of a process that exits on SIGTERM took %v, want well under the 10s grace", d)
	}
	c := s.inspect(t, id)
	if c.State != rt.StateExited || c.ExitCode != HelperStopExitCode || c.OOMKilled {
		t.Errorf("after Stop: state %q, exit code %d, OOM %v; want exited with %d (the process's own code)",
			c.State, c.ExitCode, c.OOMKilled, HelperStopExitCode)
	}
	if c.FinishedAt.Before(c.StartedAt) || c.FinishedAt.IsZero() {
		t.Errorf("FinishedAt %v, StartedAt %v: want finished after started", c.FinishedAt, c.StartedAt)
	}
	if len(c.IPs) != 0 && c.IPs[s.network] != "" {
		t.Errorf("a stopped container keeps IP %v", c.IPs)
	}
	if err := s.r.Stop(t.Context(), id, time.Second); err != nil {
		t.Errorf("Stop of a stopped container: %v, want nil", err)
	}
	if err := s.r.Start(t.Context(), id); err != nil {
		t.Fatalf("Start of an exited container: %v", err)
	}
	if c := s.inspect(t, id); !c.Running() {
		t.Errorf("after restart: state %q, want running", c.State)
	}
}

func testStopKillsAfterGrace(t *testing.T, s *suite) {
	// The helper ignores SIGUSR1 (a Go program does by default), so with
	// it as the stop signal only the kill at the end of the grace stops it.
	spec := s.spec("ignore-term", nil)
	spec.StopSignal = "SIGUSR1"
	id := s.run(t, spec)

	const grace = time.Second
	start := time.Now()
	if err := s.r.Stop(t.Context(), id, grace); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	d := time.Since(start)
	if d < grace {
		t.Errorf("Stop returned after %v, before the %v grace ran out", d, grace)
	}
	if d > grace+8*time.Second {
		t.Errorf("Stop took %v, want the %v grace and a kill", d, grace)
	}
	c := s.inspect(t, id)
	if c.State != rt.StateExited || c.ExitCode != 137 {
		t.Errorf("after Stop: state %q, exit code %d; want exited with 137 (SIGKILL)", c.State, c.ExitCode)
	}
}

func testKill(t *testing.T, s *suite) {
	id := s.run(t, s.spec("kill", nil))
	if err := s.r.Kill(t.Context(), id, "SIGUSR1"); err != nil {
		t.Fatalf("Kill SIGUSR1: %v", err)
	}
	if c := s.inspect(t, id); !c.Running() {
		t.Errorf("an ignored signal stopped the container: state %q", c.State)
	}
	if err := s.r.Kill(t.Context(), id, ""); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	waitFor(t, "the killed container to exit", func() bool { return !s.inspect(t, id).Running() })
	if c := s.inspect(t, id); c.ExitCode != 137 {
		t.Errorf("exit code after SIGKILL = %d, want 137", c.ExitCode)
	}
	if err := s.r.Kill(t.Context(), id, ""); !errors.Is(err, rt.ErrConflict) {
		t.Errorf("Kill of an exited container: %v, want ErrConflict", err)
	}
}

func testRemove(t *testing.T, s *suite) {
	spec := s.spec("remove", nil)
	id := s.run(t, spec)
	if err := s.r.Remove(t.Context(), id); err != nil {
		t.Fatalf("Remove of a running container: %v", err)
	}
	if _, err := s.r.Inspect(t.Context(), id); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("Inspect after Remove: %v, want ErrNotFound", err)
	}
	if err := s.r.Remove(t.Context(), id); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("second Remove: %v, want ErrNotFound", err)
	}
	list, err := s.r.List(t.Context(), map[string]string{SessionLabel: s.session})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, c := range list {
		if c.ID == id {
			t.Errorf("List still has the removed container %s", spec.Name)
		}
	}
	// The name is free again, as a controller replacing a pod expects.
	again := s.create(t, spec)
	if err := s.r.Remove(t.Context(), again); err != nil {
		t.Errorf("Remove of a created container: %v", err)
	}
}

func testNotFound(t *testing.T, s *suite) {
	ctx := t.Context()
	id := "mdtest-" + s.session + "-nonexistent"
	checkAllNotFound(t, s.r, id)
	if _, err := s.r.Exec(ctx, id, []string{"/helper", "exec", "0"}, io.Discard); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("Exec: %v, want ErrNotFound", err)
	}
	if err := s.r.Start(ctx, id); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("Start: %v, want ErrNotFound", err)
	}
}

// checkAllNotFound checks that every operation on one container says it
// does not exist, with the engine's message kept.
func checkAllNotFound(t *testing.T, r rt.Runtime, id string) {
	t.Helper()
	ctx := t.Context()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, rt.ErrNotFound) {
			t.Errorf("%s %s: %v, want ErrNotFound", op, id, err)
		} else if err.Error() == rt.ErrNotFound.Error() {
			t.Errorf("%s %s: bare %q, want a message naming what is missing", op, id, err)
		}
	}
	_, err := r.Inspect(ctx, id)
	check("Inspect", err)
	check("Stop", r.Stop(ctx, id, time.Second))
	check("Kill", r.Kill(ctx, id, ""))
	check("Remove", r.Remove(ctx, id))
	rc, err := r.Logs(ctx, id, rt.LogOptions{})
	if err == nil {
		rc.Close()
	}
	check("Logs", err)
}

func testImageNotFound(t *testing.T, s *suite) {
	spec := s.spec("noimage", nil)
	spec.Image = "luksa/kubia:nope"
	id, err := s.r.Create(t.Context(), spec)
	t.Cleanup(func() { ignoreNotFound(t, s.r.Remove(context.Background(), cmp.Or(id, spec.Name))) })
	if !errors.Is(err, rt.ErrImageNotFound) {
		t.Fatalf("Create with a missing image: %v, want ErrImageNotFound", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "luksa/kubia:nope") || !strings.Contains(msg, "build it first") {
		t.Errorf("error %q should name the image and say to build it", msg)
	}
	if ok, err := s.r.ImageExists(t.Context(), "luksa/kubia:nope"); err != nil || ok {
		t.Errorf("ImageExists(luksa/kubia:nope) = %v, %v; want false, nil", ok, err)
	}
	if ok, err := s.r.ImageExists(t.Context(), HelperImage); err != nil || !ok {
		t.Errorf("ImageExists(%s) = %v, %v; want true, nil", HelperImage, ok, err)
	}
}

// A running container uses some memory; one that is gone has no stats.
func testStats(t *testing.T, s *suite) {
	id := s.run(t, s.spec("stats", nil))
	st, err := s.r.Stats(t.Context(), id)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if st.MemoryBytes <= 0 || st.CPUMilli < 0 {
		t.Errorf("Stats = %+v, want some memory in use and no negative CPU", st)
	}
	if err := s.r.Remove(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.r.Stats(t.Context(), id); err == nil {
		t.Error("Stats of a removed container: no error")
	}
}

func testMissingNetwork(t *testing.T, s *suite) {
	spec := s.spec("nonet", nil)
	spec.Network = "mdtest-" + s.session + "-missing"
	id, err := s.r.Create(t.Context(), spec)
	t.Cleanup(func() { ignoreNotFound(t, s.r.Remove(context.Background(), cmp.Or(id, spec.Name))) })
	if !errors.Is(err, rt.ErrNotFound) || errors.Is(err, rt.ErrImageNotFound) {
		t.Fatalf("Create on a missing network: %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), spec.Network) {
		t.Errorf("error %q should name the network", err)
	}
}

func testNameConflict(t *testing.T, s *suite) {
	spec := s.spec("conflict", nil)
	first := s.create(t, spec)
	id, err := s.r.Create(t.Context(), spec)
	t.Cleanup(func() {
		if id != "" && id != first {
			ignoreNotFound(t, s.r.Remove(context.Background(), id))
		}
	})
	if !errors.Is(err, rt.ErrConflict) {
		t.Fatalf("second Create with the name %s: %v, want ErrConflict", spec.Name, err)
	}
}

func testPublishPorts(t *testing.T, s *suite) {
	spec := s.spec("publish", nil)
	spec.PublishPorts = true
	spec.Ports = []int{8080}
	id := s.run(t, spec)
	c := s.inspect(t, id)
	addr, err := netip.ParseAddrPort(c.HostPorts[8080])
	if err != nil || addr.Addr() != netip.MustParseAddr("127.0.0.1") || addr.Port() == 0 {
		t.Errorf("HostPorts = %v, want 8080 published on 127.0.0.1 on an ephemeral port", c.HostPorts)
	}
	plain := s.inspect(t, s.run(t, s.spec("nopublish", nil)))
	if len(plain.HostPorts) != 0 {
		t.Errorf("HostPorts without PublishPorts = %v, want none", plain.HostPorts)
	}
}

func testList(t *testing.T, s *suite) {
	group := "list-" + randomHex(3)
	a1 := s.run(t, s.spec("list-a1", map[string]string{"group": group, "tier": "a"}))
	a2 := s.create(t, s.spec("list-a2", map[string]string{"group": group, "tier": "a"}))
	b := s.run(t, s.spec("list-b", map[string]string{"group": group, "tier": "b"}))
	if err := s.r.Stop(t.Context(), b, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	ids := func(match map[string]string) map[string]rt.Container {
		t.Helper()
		list, err := s.r.List(t.Context(), match)
		if err != nil {
			t.Fatalf("List(%v): %v", match, err)
		}
		out := map[string]rt.Container{}
		for _, c := range list {
			out[c.ID] = c
		}
		return out
	}
	tierA := ids(map[string]string{"group": group, "tier": "a"})
	if len(tierA) != 2 || tierA[a1].ID == "" || tierA[a2].ID == "" {
		t.Errorf("List(tier=a) = %v, want exactly list-a1 and list-a2", names(tierA))
	}
	all := ids(map[string]string{"group": group})
	if len(all) != 3 {
		t.Fatalf("List(group) = %v, want the 3 containers, running or not", names(all))
	}
	if c := all[a1]; !c.Running() || c.StartedAt.IsZero() || c.IPs[s.network] == "" || c.Labels["tier"] != "a" {
		t.Errorf("List entry of a running container = %+v, want running with start time, IP and labels", c)
	}
	if c := all[a2]; c.State != rt.StateCreated {
		t.Errorf("List entry of a created container: state %q", c.State)
	}
	if c := all[b]; c.State != rt.StateExited || c.ExitCode != HelperStopExitCode || c.FinishedAt.IsZero() {
		t.Errorf("List entry of a stopped container: state %q, exit %d, finished %v; want exited, %d, a time",
			c.State, c.ExitCode, c.FinishedAt, HelperStopExitCode)
	}
	if every := ids(nil); every[a1].ID == "" || every[a2].ID == "" || every[b].ID == "" {
		t.Errorf("List(nil) lacks some of the test's containers")
	}
	if none := ids(map[string]string{"group": group, "tier": "c"}); len(none) != 0 {
		t.Errorf("List(tier=c) = %v, want none", names(none))
	}
}

func testEvents(t *testing.T, s *suite) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	events := s.r.Events(ctx)
	next := func(what string) rt.Event {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("event stream closed while waiting for %s", what)
			}
			return ev
		case <-time.After(waitTimeout):
			t.Fatalf("no %s event within %v", what, waitTimeout)
		}
		return rt.Event{}
	}
	if ev := next("resync"); ev.Type != rt.EventResync {
		t.Fatalf("first event = %+v, want %s", ev, rt.EventResync)
	}

	spec := s.spec("events", nil)
	id := s.run(t, spec)
	if err := s.r.Stop(t.Context(), id, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.r.Remove(t.Context(), id); err != nil {
		t.Fatalf("Remove: %v", err)
	}

	// Other subtests run in parallel: only this container's events count.
	var got []rt.Event
	for len(got) < 3 {
		ev := next("start, die and destroy")
		if ev.ContainerID == id {
			got = append(got, ev)
		}
	}
	want := []rt.EventType{rt.EventStart, rt.EventDie, rt.EventDestroy}
	for i, ev := range got {
		if ev.Type != want[i] {
			t.Fatalf("events of the container = %v, want %v", types(got), want)
		}
		if ev.Name != spec.Name || ev.Labels[SessionLabel] != s.session || ev.Time.IsZero() {
			t.Errorf("%s event = %+v, want name %s, the session label and a time", ev.Type, ev, spec.Name)
		}
	}
	if got[1].ExitCode != HelperStopExitCode {
		t.Errorf("die event exit code = %d, want %d", got[1].ExitCode, HelperStopExitCode)
	}

	cancel()
	deadline := time.After(waitTimeout)
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("event stream not closed after its context ended")
		}
	}
}

func testLogs(t *testing.T, s *suite) {
	id := s.run(t, s.spec("logs", nil))
	s.waitLogs(t, id, "helper stderr")
	// The engine reads stdout and stderr separately, so their order is not
	// guaranteed: compare the lines as sets.
	helperLines := sortedLines(HelperLog)
	if got := sortedLines(s.logs(t, id, rt.LogOptions{})); !slices.Equal(got, helperLines) {
		t.Errorf("logs = %q, want stdout and stderr demultiplexed into %q", got, helperLines)
	}
	if tail := sortedLines(s.logs(t, id, rt.LogOptions{Tail: 1})); len(tail) != 1 || !slices.Contains(helperLines, tail[0]) {
		t.Errorf("logs with Tail 1 = %q, want one of %q", tail, helperLines)
	}
	stamped := s.logs(t, id, rt.LogOptions{Timestamps: true})
	first, _, _ := strings.Cut(stamped, " ")
	if _, err := time.Parse(time.RFC3339Nano, first); err != nil || !strings.Contains(stamped, "helper started") {
		t.Errorf("logs with Timestamps = %q, want RFC 3339 times before the lines", stamped)
	}

	rc, err := s.r.Logs(t.Context(), id, rt.LogOptions{Follow: true})
	if err != nil {
		t.Fatalf("Logs follow: %v", err)
	}
	defer rc.Close()
	read := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(rc)
		read <- b
	}()
	// A negative Tail follows new lines only, none of the backlog.
	rcNew, err := s.r.Logs(t.Context(), id, rt.LogOptions{Follow: true, Tail: -1})
	if err != nil {
		t.Fatalf("Logs follow, no backlog: %v", err)
	}
	defer rcNew.Close()
	readNew := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(rcNew)
		readNew <- b
	}()
	// A follower ends when the container stops.
	if err := s.r.Stop(t.Context(), id, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case b := <-read:
		if !bytes.Contains(b, []byte("helper started")) {
			t.Errorf("followed logs = %q, want the output so far", b)
		}
	case <-time.After(waitTimeout):
		t.Fatal("following logs did not end when the container stopped")
	}
	select {
	case b := <-readNew:
		if bytes.Contains(b, []byte("helper started")) {
			t.Errorf("followed logs with Tail -1 = %q, want no line written before", b)
		}
	case <-time.After(waitTimeout):
		t.Fatal("following logs with Tail -1 did not end when the container stopped")
	}

	// A follower also ends when its reader closes it early.
	if err := s.r.Start(t.Context(), id); err != nil {
		t.Fatalf("Start: %v", err)
	}
	rc2, err := s.r.Logs(t.Context(), id, rt.LogOptions{Follow: true})
	if err != nil {
		t.Fatalf("Logs follow: %v", err)
	}
	rc2.Close()
}

func testExec(t *testing.T, s *suite) {
	id := s.run(t, s.spec("exec", nil))
	var out bytes.Buffer
	res, err := s.r.Exec(t.Context(), id, []string{"/helper", "exec", "7", "hello", "world"}, &out)
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if res.ExitCode != 7 || !bytes.Contains(out.Bytes(), []byte("hello world\n")) || !bytes.Contains(out.Bytes(), []byte("exec stderr\n")) {
		t.Errorf("Exec = exit %d, output %q; want 7 with stdout and stderr", res.ExitCode, out.Bytes())
	}
	if res, err := s.r.Exec(t.Context(), id, []string{"/helper", "exec", "0", "ok"}, io.Discard); err != nil || res.ExitCode != 0 {
		t.Errorf("Exec = %+v, %v; want exit 0", res, err)
	}
	if err := s.r.Stop(t.Context(), id, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := s.r.Exec(t.Context(), id, []string{"/helper", "exec", "0"}, io.Discard); !errors.Is(err, rt.ErrConflict) {
		t.Errorf("Exec in a stopped container: %v, want ErrConflict", err)
	}
}

func testNetworks(t *testing.T, s *suite) {
	ctx := t.Context()
	name := "mdtest-" + s.session + "-net"
	labels := map[string]string{SessionLabel: s.session, "purpose": "networks"}
	t.Cleanup(func() { ignoreNotFound(t, s.r.RemoveNetwork(context.Background(), name)) })
	n, err := s.r.EnsureNetwork(ctx, name, labels)
	if err != nil {
		t.Fatalf("EnsureNetwork: %v", err)
	}
	if n.ID == "" || n.Name != name {
		t.Errorf("EnsureNetwork = %+v, want an ID and the name %s", n, name)
	}
	if _, err := netip.ParsePrefix(n.Subnet); err != nil {
		t.Errorf("subnet %q: %v", n.Subnet, err)
	}
	again, err := s.r.EnsureNetwork(ctx, name, labels)
	if err != nil || again.ID != n.ID {
		t.Errorf("second EnsureNetwork = %+v, %v; want the same network %s", again, err, n.ID)
	}
	list, err := s.r.ListNetworks(ctx, map[string]string{SessionLabel: s.session, "purpose": "networks"})
	if err != nil || len(list) != 1 || list[0].ID != n.ID {
		t.Errorf("ListNetworks = %+v, %v; want just %s", list, err, name)
	}
	if err := s.r.RemoveNetwork(ctx, name); err != nil {
		t.Fatalf("RemoveNetwork: %v", err)
	}
	if err := s.r.RemoveNetwork(ctx, name); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("second RemoveNetwork: %v, want ErrNotFound", err)
	}
	if list, _ := s.r.ListNetworks(ctx, map[string]string{SessionLabel: s.session, "purpose": "networks"}); len(list) != 0 {
		t.Errorf("ListNetworks after RemoveNetwork = %+v, want none", list)
	}

	if s.opts.AddForeignNetwork == nil {
		return
	}
	foreign := "mdtest-" + s.session + "-foreign"
	s.opts.AddForeignNetwork(t, foreign)
	if _, err := s.r.EnsureNetwork(ctx, foreign, nil); !errors.Is(err, rt.ErrConflict) {
		t.Errorf("EnsureNetwork over a network mini-deploy did not create: %v, want ErrConflict", err)
	}
	if err := s.r.RemoveNetwork(ctx, foreign); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("RemoveNetwork of a foreign network: %v, want ErrNotFound", err)
	}
	if list, _ := s.r.ListNetworks(ctx, nil); slices.ContainsFunc(list, func(n rt.Network) bool { return n.Name == foreign }) {
		t.Errorf("ListNetworks lists the foreign network %s", foreign)
	}
}

func testOwnership(t *testing.T, s *suite) {
	// A user's own kubia: same app label as mini-deploy's pods.
	labels := map[string]string{"app": "kubia", SessionLabel: s.session}
	foreign := s.opts.AddForeign(t, labels)
	if !s.opts.IsRunning(t, foreign) {
		t.Fatal("the foreign container is not running to begin with")
	}
	mine := s.run(t, s.spec("owned", map[string]string{"app": "kubia"}))

	for _, match := range []map[string]string{nil, {"app": "kubia"}, labels} {
		list, err := s.r.List(t.Context(), match)
		if err != nil {
			t.Fatalf("List(%v): %v", match, err)
		}
		for _, c := range list {
			if c.ID == foreign {
				t.Errorf("List(%v) lists the foreign container", match)
			}
		}
		if match != nil && !slices.ContainsFunc(list, func(c rt.Container) bool { return c.ID == mine }) {
			t.Errorf("List(%v) lacks the managed container", match)
		}
	}
	checkAllNotFound(t, s.r, foreign)
	if err := s.r.Start(t.Context(), foreign); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("Start of the foreign container: %v, want ErrNotFound", err)
	}
	if _, err := s.r.Exec(t.Context(), foreign, []string{"/helper", "exec", "0"}, io.Discard); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("Exec in the foreign container: %v, want ErrNotFound", err)
	}
	if !s.opts.IsRunning(t, foreign) {
		t.Error("the foreign container was stopped or removed")
	}
}

func testBuildImage(t *testing.T, s *suite) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM scratch\nARG GREETING\nCOPY hello.txt /hello.txt\n")
	write("hello.txt", "hello\n")
	tag := "mini-deploy-runtimetest/build:" + s.session
	if s.opts.RemoveImage != nil {
		t.Cleanup(func() { s.opts.RemoveImage(t, tag) })
	}
	err := s.r.BuildImage(t.Context(), rt.BuildOptions{
		Dir:       dir,
		Tags:      []string{tag},
		BuildArgs: map[string]string{"GREETING": "hi"},
		Labels:    map[string]string{SessionLabel: s.session},
	})
	if err != nil {
		t.Fatalf("BuildImage: %v", err)
	}
	if ok, err := s.r.ImageExists(t.Context(), tag); err != nil || !ok {
		t.Errorf("ImageExists(%s) after the build = %v, %v; want true", tag, ok, err)
	}

	empty := t.TempDir()
	if err := s.r.BuildImage(t.Context(), rt.BuildOptions{Dir: empty, Tags: []string{tag + "-broken"}}); err == nil {
		t.Error("BuildImage of a directory without a Dockerfile succeeded")
		if s.opts.RemoveImage != nil {
			s.opts.RemoveImage(t, tag+"-broken")
		}
	}
}

// waitFor polls cond until it holds or the suite's timeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	Eventually(t, waitTimeout, pollEvery, what, cond)
}

// Eventually polls cond every interval until it holds, and fails t when
// timeout passes first. It returns how long it waited. Every test of the
// project that waits for a condition waits through it.
func Eventually(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
	return time.Since(start)
}

func ignoreNotFound(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("cleanup: %v", err)
	}
}

func names(cs map[string]rt.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

func types(evs []rt.Event) []rt.EventType {
	var out []rt.EventType
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

func sortedLines(s string) []string {
	lines := slices.Collect(strings.Lines(s))
	slices.Sort(lines)
	return lines
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
