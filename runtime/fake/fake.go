// Package fake is an in-memory runtime.Runtime for unit tests of code that
// drives containers. It honours the same contract as runtime/docker (the
// runtimetest suite runs on both) and lets a test inject faults: failing
// creates, containers that exit or crash, slow starts, an engine that goes
// away. Actions records what was asked of it, for tests that check the exact
// list of actions a controller took.
//
// A fake process behaves like a Go program: SIGTERM, SIGINT and SIGHUP make
// it exit (with the image's stop exit code, 0 unless set), SIGKILL kills it
// (137), and every other signal is ignored.
//
// Runtime has more methods, and this file more lines, than the project's
// rule of thumb (~25, ~500): the 17 of runtime.Runtime, the knobs a test
// turns, and the one state machine of a container they all act on under one
// lock. Split, the same state would sit behind two locks, which is how a
// fake starts to disagree with the engine it stands in for.
package fake

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// ExitKilled is the exit code of a process killed by SIGKILL, as the engine
// reports it (128+9).
const ExitKilled = 137

// Runtime is the in-memory engine. The zero value is not usable: call New.
type Runtime struct {
	mu          sync.Mutex
	now         func() time.Time
	images      map[string]*image
	containers  map[string]*container // by ID
	networks    map[string]*network   // by name
	nextNetwork int
	nextPort    int
	actions     []string
	subscribers map[*rt.EventQueue]bool
	unavailable bool
	startDelay  time.Duration
	exec        func(c rt.Container, cmd []string, out io.Writer) (rt.ExecResult, error)
	failImage   map[string]error
	failNext    map[string]*failure
}

var _ rt.Runtime = (*Runtime)(nil)

type image struct {
	log          string
	stopExitCode int
	crash        *int
	ignoreTerm   bool
}

type container struct {
	info    rt.Container
	spec    rt.ContainerSpec
	image   image
	managed bool
	// exited is closed when the process stops, to wake a Stop waiting out
	// the grace period; Start replaces it.
	exited  chan struct{}
	logs    []logLine
	changed chan struct{} // closed and replaced on every log write or exit
}

// logLine is one line of output (the last may lack its newline), kept with
// its time for LogOptions.Timestamps and counted by LogOptions.Tail.
type logLine struct {
	at   time.Time
	text string
}

type network struct {
	info    rt.Network
	labels  map[string]string
	managed bool
	index   int
}

type failure struct {
	n   int
	err error
}

// New returns an empty engine with the "bridge" network every Docker engine
// has.
func New() *Runtime {
	r := &Runtime{
		now:         time.Now,
		images:      map[string]*image{},
		containers:  map[string]*container{},
		networks:    map[string]*network{},
		subscribers: map[*rt.EventQueue]bool{},
		failImage:   map[string]error{},
		failNext:    map[string]*failure{},
		nextPort:    40000,
	}
	r.networks["bridge"] = &network{info: rt.Network{ID: newID(), Name: "bridge", Subnet: "10.99.0.0/24"}}
	r.nextNetwork = 1
	return r
}

// ImageOption describes how containers of a fake image behave.
type ImageOption func(*image)

// WithLog makes every start of the image write s to the container's log.
func WithLog(s string) ImageOption { return func(i *image) { i.log = s } }

// WithStopExitCode sets the exit code the process returns when SIGTERM,
// SIGINT or SIGHUP arrives (0 by default: a clean shutdown).
func WithStopExitCode(code int) ImageOption { return func(i *image) { i.stopExitCode = code } }

// WithIgnoreSIGTERM makes the process ignore SIGTERM, SIGINT and SIGHUP, so
// that a stop waits out the whole grace period and ends in SIGKILL.
func WithIgnoreSIGTERM() ImageOption { return func(i *image) { i.ignoreTerm = true } }

// WithCrash makes the process exit with code right after every start, like
// kubia's broken variant.
func WithCrash(code int) ImageOption { return func(i *image) { i.crash = &code } }

// AddImage makes ref present, as if it had been built.
func (r *Runtime) AddImage(ref string, opts ...ImageOption) {
	img := &image{}
	for _, o := range opts {
		o(img)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.images[normalizeRef(ref)] = img
}

// FailCreate makes every Create of image fail with err (wrapped so that
// errors.Is finds it); a nil err clears the fault.
func (r *Runtime) FailCreate(image string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		delete(r.failImage, normalizeRef(image))
		return
	}
	r.failImage[normalizeRef(image)] = err
}

// FailNext makes the next n calls of op ("create", "start", "stop", "kill",
// "remove", "inspect", "list", "exec") fail with err.
func (r *Runtime) FailNext(op string, n int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failNext[op] = &failure{n: n, err: err}
}

// SetStartDelay makes every Start take d before the process runs, like an
// engine under load.
func (r *Runtime) SetStartDelay(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.startDelay = d
}

// SetExec sets what Exec returns; by default every command succeeds with no
// output.
func (r *Runtime) SetExec(fn func(c rt.Container, cmd []string, out io.Writer) (rt.ExecResult, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exec = fn
}

// SetNow replaces the clock that stamps created, started and finished times
// and events.
func (r *Runtime) SetNow(now func() time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = now
}

// SetUnavailable makes every call fail with ErrEngineUnavailable, as when
// the engine stops, and the event streams go quiet. Making it available
// again sends EventResync on every stream, as a reconnect does.
func (r *Runtime) SetUnavailable(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	was := r.unavailable
	r.unavailable = down
	if was && !down {
		r.publishLocked(rt.Event{Type: rt.EventResync, Time: r.now()})
	}
}

// Actions returns the container operations asked of the runtime, in order,
// as "create NAME", "start NAME", "stop NAME", "kill NAME SIGNAL" and
// "remove NAME". A call is recorded even when it fails, as long as it names
// a managed container (or, for create, at all).
func (r *Runtime) Actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.actions)
}

// ResetActions forgets the actions recorded so far.
func (r *Runtime) ResetActions() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.actions = nil
}

// Exit makes a running container's process exit with code by itself.
func (r *Runtime) Exit(id string, code int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.findLocked(id, true)
	if err != nil {
		return err
	}
	if c.info.State != rt.StateRunning {
		return fmt.Errorf("%w: container %s is not running", rt.ErrConflict, c.info.Name)
	}
	r.exitLocked(c, code, false)
	return nil
}

// OOM makes a running container's process be killed for lack of memory.
func (r *Runtime) OOM(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.findLocked(id, true)
	if err != nil {
		return err
	}
	if c.info.State != rt.StateRunning {
		return fmt.Errorf("%w: container %s is not running", rt.ErrConflict, c.info.Name)
	}
	r.publishLocked(r.eventLocked(c, rt.EventOOM))
	r.exitLocked(c, ExitKilled, true)
	return nil
}

// WriteLog appends s to a container's log, as if its process printed it.
func (r *Runtime) WriteLog(id string, s string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.findLocked(id, true)
	if err != nil {
		return err
	}
	r.logLocked(c, s)
	return nil
}

// AddForeign adds a running container that mini-deploy did not create (no
// ManagedLabel), such as a user's own kubia. Every Runtime method treats it
// as nonexistent; IsRunning still sees it.
func (r *Runtime) AddForeign(spec rt.ContainerSpec) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	labels := maps.Clone(spec.Labels)
	delete(labels, rt.ManagedLabel)
	spec.Labels = labels
	c := r.newContainerLocked(spec, false)
	r.startLocked(c)
	return c.info.ID
}

// IsRunning reports whether any container, managed or not, runs.
func (r *Runtime) IsRunning(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.findLocked(id, true)
	return err == nil && c.info.State == rt.StateRunning
}

// Create makes a container. The image must have been added or built.
func (r *Runtime) Create(ctx context.Context, spec rt.ContainerSpec) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkLocked(ctx, "create"); err != nil {
		return "", err
	}
	r.actions = append(r.actions, "create "+spec.Name)
	if err := r.failLocked("create"); err != nil {
		return "", err
	}
	ref := normalizeRef(spec.Image)
	if err := r.failImage[ref]; err != nil {
		return "", fmt.Errorf("create %s: %w", spec.Name, err)
	}
	if _, ok := r.images[ref]; !ok {
		return "", fmt.Errorf("%w: image %q not found: No such image: %s; build it first", rt.ErrImageNotFound, spec.Image, spec.Image)
	}
	if spec.Name != "" {
		for _, c := range r.containers {
			if c.info.Name == spec.Name {
				return "", fmt.Errorf("%w: the container name %q is already in use by container %q", rt.ErrConflict, spec.Name, c.info.ID)
			}
		}
	}
	if spec.Network != "" {
		if _, ok := r.networks[spec.Network]; !ok {
			return "", fmt.Errorf("%w: network %s not found", rt.ErrNotFound, spec.Network)
		}
	}
	spec.Labels = maps.Clone(spec.Labels)
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	spec.Labels[rt.ManagedLabel] = "true"
	return r.newContainerLocked(spec, true).info.ID, nil
}

// Start runs a created or exited container; it waits the start delay first.
func (r *Runtime) Start(ctx context.Context, id string) error {
	r.mu.Lock()
	c, err := r.actLocked(ctx, "start", id)
	delay := r.startDelay
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.containers[c.info.ID] != c {
		return fmt.Errorf("%w: no such container: %s", rt.ErrNotFound, id)
	}
	if c.info.State != rt.StateRunning {
		r.startLocked(c)
	}
	return nil
}

// Stop delivers the stop signal; a process that ignores it is killed when
// grace runs out (in real time, so keep graces short in tests).
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	r.mu.Lock()
	c, err := r.actLocked(ctx, "stop", id)
	if err != nil || c.info.State != rt.StateRunning {
		r.mu.Unlock()
		return err
	}
	signal := c.spec.StopSignal
	if signal == "" {
		signal = "SIGTERM"
	}
	r.signalLocked(c, signal)
	exited := c.exited
	r.mu.Unlock()

	select {
	case <-exited:
		return nil
	case <-time.After(grace):
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.info.State == rt.StateRunning && c.exited == exited {
		r.exitLocked(c, ExitKilled, false)
	}
	return nil
}

// Kill sends signal (SIGKILL when empty) to a running container.
func (r *Runtime) Kill(ctx context.Context, id string, signal string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if signal == "" {
		signal = "SIGKILL"
	}
	c, err := r.actLocked(ctx, "kill", id, signal)
	if err != nil {
		return err
	}
	if c.info.State != rt.StateRunning {
		return fmt.Errorf("%w: container %s is not running", rt.ErrConflict, id)
	}
	r.signalLocked(c, signal)
	return nil
}

// Remove deletes a container, killing it first if it runs.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.actLocked(ctx, "remove", id)
	if err != nil {
		return err
	}
	if c.info.State == rt.StateRunning {
		r.exitLocked(c, ExitKilled, false)
	}
	delete(r.containers, c.info.ID)
	r.publishLocked(r.eventLocked(c, rt.EventDestroy))
	return nil
}

// Inspect returns a managed container by ID, unique ID prefix or name.
func (r *Runtime) Inspect(ctx context.Context, id string) (rt.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkLocked(ctx, "inspect"); err != nil {
		return rt.Container{}, err
	}
	c, err := r.findLocked(id, false)
	if err != nil {
		return rt.Container{}, err
	}
	return snapshot(c), nil
}

// List returns the managed containers carrying every label in match, by name.
func (r *Runtime) List(ctx context.Context, match map[string]string) ([]rt.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkLocked(ctx, "list"); err != nil {
		return nil, err
	}
	var out []rt.Container
	for _, c := range r.containers {
		if c.managed && hasLabels(c.info.Labels, match) {
			out = append(out, snapshot(c))
		}
	}
	slices.SortFunc(out, func(a, b rt.Container) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Exec runs the function set with SetExec.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string, out io.Writer) (rt.ExecResult, error) {
	r.mu.Lock()
	if err := r.checkLocked(ctx, "exec"); err != nil {
		r.mu.Unlock()
		return rt.ExecResult{}, err
	}
	c, err := r.findLocked(id, false)
	if err == nil && c.info.State != rt.StateRunning {
		err = fmt.Errorf("%w: container %s is not running", rt.ErrConflict, id)
	}
	var info rt.Container
	if err == nil {
		info = snapshot(c)
	}
	fn := r.exec
	r.mu.Unlock()
	if err != nil {
		return rt.ExecResult{}, err
	}
	if fn == nil {
		return rt.ExecResult{}, nil
	}
	// Outside the lock: the function may call back into the runtime.
	return fn(info, slices.Clone(cmd), out)
}

// Stats reports a fixed use for a running container: the fake runs no
// processes.
func (r *Runtime) Stats(ctx context.Context, id string) (rt.Stats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkLocked(ctx, "stats"); err != nil {
		return rt.Stats{}, err
	}
	c, err := r.findLocked(id, false)
	if err != nil {
		return rt.Stats{}, err
	}
	if !snapshot(c).Running() {
		return rt.Stats{}, fmt.Errorf("container %s is not running: %w", id, rt.ErrConflict)
	}
	return rt.Stats{CPUMilli: 1, MemoryBytes: 4 << 20}, nil
}

// ImageExists reports whether ref was added or built.
func (r *Runtime) ImageExists(ctx context.Context, ref string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkLocked(ctx, "image"); err != nil {
		return false, err
	}
	_, ok := r.images[normalizeRef(ref)]
	return ok, nil
}

// BuildImage checks that the Dockerfile exists and adds the tags as images
// with default behaviour.
func (r *Runtime) BuildImage(ctx context.Context, opts rt.BuildOptions) error {
	dockerfile := opts.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, dockerfile)); err != nil {
		return fmt.Errorf("build %s: %w", strings.Join(opts.Tags, ", "), err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkLocked(ctx, "build"); err != nil {
		return err
	}
	for _, t := range opts.Tags {
		r.images[normalizeRef(t)] = &image{}
	}
	return nil
}

// EnsureNetwork returns the managed network called name, creating it when
// absent; a network of that name not created through a Runtime is a conflict.
func (r *Runtime) EnsureNetwork(ctx context.Context, name string, labels map[string]string) (rt.Network, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkLocked(ctx, "network"); err != nil {
		return rt.Network{}, err
	}
	if n, ok := r.networks[name]; ok {
		if !n.managed {
			return rt.Network{}, fmt.Errorf("%w: network %q exists and is not managed by mini-deploy", rt.ErrConflict, name)
		}
		return n.info, nil
	}
	all := maps.Clone(labels)
	if all == nil {
		all = map[string]string{}
	}
	all[rt.ManagedLabel] = "true"
	return r.addNetworkLocked(name, all, true).info, nil
}

// AddForeignNetwork adds a network that mini-deploy did not create.
func (r *Runtime) AddForeignNetwork(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addNetworkLocked(name, nil, false)
}

// RemoveNetwork deletes a managed network that no running container uses.
func (r *Runtime) RemoveNetwork(ctx context.Context, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkLocked(ctx, "network"); err != nil {
		return err
	}
	n, ok := r.networks[name]
	if !ok || !n.managed {
		return fmt.Errorf("%w: no such managed network: %s", rt.ErrNotFound, name)
	}
	for _, c := range r.containers {
		if c.spec.Network == name && c.info.State == rt.StateRunning {
			return fmt.Errorf("%w: network %s has active endpoints", rt.ErrConflict, name)
		}
	}
	delete(r.networks, name)
	return nil
}

// ListNetworks returns the managed networks carrying every label in match.
func (r *Runtime) ListNetworks(ctx context.Context, match map[string]string) ([]rt.Network, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkLocked(ctx, "network"); err != nil {
		return nil, err
	}
	var out []rt.Network
	for _, n := range r.networks {
		if n.managed && hasLabels(n.labels, match) {
			out = append(out, n.info)
		}
	}
	slices.SortFunc(out, func(a, b rt.Network) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Ping fails only while the engine is made unavailable.
func (r *Runtime) Ping(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.checkLocked(ctx, "ping")
}

// Close does nothing: there is nothing to release.
func (r *Runtime) Close() error { return nil }

// checkLocked returns the error every call returns before doing anything:
// an ended context or an unavailable engine.
func (r *Runtime) checkLocked(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.unavailable {
		return fmt.Errorf("%w: %s: Cannot connect to the fake engine", rt.ErrEngineUnavailable, op)
	}
	return nil
}

// failLocked consumes one injected failure of op, if any.
func (r *Runtime) failLocked(op string) error {
	f := r.failNext[op]
	if f == nil || f.n <= 0 {
		return nil
	}
	f.n--
	return fmt.Errorf("%s: %w", op, f.err)
}

// actLocked is the common start of an operation on one managed container:
// it records the action and applies injected failures.
func (r *Runtime) actLocked(ctx context.Context, op, id string, extra ...string) (*container, error) {
	if err := r.checkLocked(ctx, op); err != nil {
		return nil, err
	}
	c, err := r.findLocked(id, false)
	if err != nil {
		return nil, err
	}
	r.actions = append(r.actions, strings.Join(append([]string{op, c.info.Name}, extra...), " "))
	if err := r.failLocked(op); err != nil {
		return nil, err
	}
	return c, nil
}

// findLocked finds a container by ID, unique ID prefix or name; unless
// foreign is true, one without ManagedLabel is not found.
func (r *Runtime) findLocked(id string, foreign bool) (*container, error) {
	var found *container
	if c, ok := r.containers[id]; ok {
		found = c
	} else {
		var matches []*container
		for _, c := range r.containers {
			if c.info.Name == id || (id != "" && strings.HasPrefix(c.info.ID, id)) {
				matches = append(matches, c)
			}
		}
		if len(matches) == 1 {
			found = matches[0]
		}
	}
	if found == nil || (!found.managed && !foreign) {
		return nil, fmt.Errorf("%w: no such container: %s", rt.ErrNotFound, id)
	}
	return found, nil
}

func (r *Runtime) newContainerLocked(spec rt.ContainerSpec, managed bool) *container {
	id := newID()
	name := spec.Name
	if name == "" {
		name = "fake_" + id[:12]
	}
	img := r.images[normalizeRef(spec.Image)]
	if img == nil {
		img = &image{}
	}
	c := &container{
		spec:    spec,
		image:   *img,
		managed: managed,
		exited:  make(chan struct{}),
		changed: make(chan struct{}),
		info: rt.Container{
			ID:        id,
			Name:      name,
			Image:     spec.Image,
			Hostname:  cmp.Or(spec.Hostname, id[:12]),
			Labels:    spec.Labels,
			State:     rt.StateCreated,
			CreatedAt: r.now(),
			Resources: spec.Resources,
		},
	}
	close(c.exited)
	r.containers[id] = c
	return c
}

// startLocked runs the process: it gets an address on its network (the
// lowest free one, since the engine reuses addresses quickly) and, for a
// crashing image, exits at once.
func (r *Runtime) startLocked(c *container) {
	netName := cmp.Or(c.spec.Network, "bridge")
	c.info.IPs = map[string]string{}
	if n := r.networks[netName]; n != nil {
		c.info.IPs[netName] = r.freeIPLocked(n)
	}
	c.info.HostPorts = nil
	if c.spec.PublishPorts {
		c.info.HostPorts = map[int]string{}
		for _, p := range c.spec.Ports {
			r.nextPort++
			c.info.HostPorts[p] = fmt.Sprintf("127.0.0.1:%d", r.nextPort)
		}
	}
	c.info.State = rt.StateRunning
	c.info.ExitCode = 0
	c.info.OOMKilled = false
	c.info.StartedAt = r.now()
	c.info.FinishedAt = time.Time{}
	c.exited = make(chan struct{})
	if c.managed {
		r.publishLocked(r.eventLocked(c, rt.EventStart))
	}
	if c.image.log != "" {
		r.logLocked(c, c.image.log)
	}
	if c.image.crash != nil {
		r.exitLocked(c, *c.image.crash, false)
	}
}

func (r *Runtime) freeIPLocked(n *network) string {
	used := map[string]bool{}
	for _, c := range r.containers {
		if ip, ok := c.info.IPs[n.info.Name]; ok {
			used[ip] = true
		}
	}
	for host := 2; host < 255; host++ {
		ip := fmt.Sprintf("10.99.%d.%d", n.index, host)
		if !used[ip] {
			return ip
		}
	}
	return ""
}

func (r *Runtime) signalLocked(c *container, signal string) {
	switch strings.TrimPrefix(strings.ToUpper(signal), "SIG") {
	case "TERM", "INT", "HUP", "15", "2", "1":
		if !c.image.ignoreTerm {
			r.exitLocked(c, c.image.stopExitCode, false)
		}
	case "KILL", "9":
		r.exitLocked(c, ExitKilled, false)
	}
}

func (r *Runtime) exitLocked(c *container, code int, oom bool) {
	c.info.State = rt.StateExited
	c.info.ExitCode = code
	c.info.OOMKilled = oom
	c.info.FinishedAt = r.now()
	c.info.IPs = map[string]string{}
	c.info.HostPorts = nil
	close(c.exited)
	r.notifyLocked(c)
	if c.managed {
		ev := r.eventLocked(c, rt.EventDie)
		ev.ExitCode = code
		r.publishLocked(ev)
	}
}

func (r *Runtime) logLocked(c *container, s string) {
	now := r.now()
	for line := range strings.Lines(s) {
		c.logs = append(c.logs, logLine{at: now, text: line})
	}
	r.notifyLocked(c)
}

func (r *Runtime) notifyLocked(c *container) {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (r *Runtime) addNetworkLocked(name string, labels map[string]string, managed bool) *network {
	// Network n gets 10.99.n.0/24; past 255 networks the subnets repeat,
	// which no test comes near.
	n := &network{labels: labels, managed: managed, index: r.nextNetwork % 256}
	r.nextNetwork++
	n.info = rt.Network{ID: newID(), Name: name, Subnet: fmt.Sprintf("10.99.%d.0/24", n.index)}
	r.networks[name] = n
	return n
}

func (r *Runtime) eventLocked(c *container, t rt.EventType) rt.Event {
	return rt.Event{Type: t, ContainerID: c.info.ID, Name: c.info.Name, Labels: maps.Clone(c.info.Labels), Time: r.now()}
}

// snapshot copies a container's info so that callers never share maps with
// the runtime.
func snapshot(c *container) rt.Container {
	out := c.info
	out.Labels = maps.Clone(c.info.Labels)
	out.IPs = maps.Clone(c.info.IPs)
	out.HostPorts = maps.Clone(c.info.HostPorts)
	return out
}

func hasLabels(labels, match map[string]string) bool {
	for k, v := range match {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// normalizeRef makes "kubia" and "kubia:latest" the same image, as the
// engine does.
func normalizeRef(ref string) string {
	if strings.Contains(ref, "@") {
		return ref
	}
	if !strings.Contains(ref[strings.LastIndex(ref, "/")+1:], ":") {
		return ref + ":latest"
	}
	return ref
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
