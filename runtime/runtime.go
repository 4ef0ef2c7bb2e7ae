// Package runtime is the small part of a container engine that mini-deploy
// needs: create, start, stop, remove, inspect and list containers, follow the
// engine's events, read logs, exec, build images and make networks.
//
// Two implementations honour the same contract: runtime/docker talks to a real
// Docker engine and runtime/fake keeps everything in memory, with faults that a
// test can inject. One contract suite (runtime/runtimetest) runs against both.
//
// Ownership is part of the contract: every container and network created
// through a Runtime carries the label ManagedLabel=true, and every List, Stop,
// Remove and Inspect refuses what does not carry it. A user's own container
// labelled app=kubia is therefore invisible to mini-deploy.
//
// Where a change goes: a new engine call is a method of Runtime, in both
// implementations and in the contract suite; nothing of Docker leaves
// runtime/docker.
package runtime

import (
	"context"
	"errors"
	"io"
	"time"
)

// ManagedLabel marks every container and network mini-deploy creates. Nothing
// without it is ever listed, stopped or removed.
const ManagedLabel = "mini-deploy.io/managed"

// Sentinel errors. Implementations wrap them with the engine's own message, so
// errors.Is works and the user still reads what the engine said.
var (
	ErrNotFound          = errors.New("not found")
	ErrImageNotFound     = errors.New("image not found")
	ErrConflict          = errors.New("conflict")
	ErrEngineUnavailable = errors.New("container engine unavailable")
)

// ContainerSpec is what Create needs to make one container.
type ContainerSpec struct {
	Name       string
	Image      string
	Command    []string // replaces the image's entrypoint when set
	Args       []string // replaces the image's cmd when set
	Env        []string // KEY=value
	Labels     map[string]string
	Hostname   string
	Network    string // network name; the container's IP on it is reported by Inspect
	StopSignal string // e.g. "SIGTERM"; empty means the image's default
	WorkingDir string
	// PublishPorts publishes each of Ports on an ephemeral 127.0.0.1 port, for
	// engines whose container IPs the host cannot reach (Docker Desktop).
	PublishPorts bool
	Ports        []int // container TCP ports
	Resources    Resources
}

// Resources are a container's compute limits and reservations in the
// engine's units; zero means none.
type Resources struct {
	MemoryLimit       int64 // bytes; a process that goes over is killed (OOMKilled)
	MemoryReservation int64 // bytes; a soft limit enforced under memory pressure
	NanoCPUs          int64 // CPU time quota: 1e9 is one core
	CPUShares         int64 // relative weight under contention: 1024 is one core's
}

// State is a container's lifecycle state as the engine reports it.
type State string

// The states a container can be in.
const (
	StateCreated    State = "created"
	StateRunning    State = "running"
	StatePaused     State = "paused"
	StateRestarting State = "restarting"
	StateRemoving   State = "removing"
	StateExited     State = "exited"
	StateDead       State = "dead"
)

// Container is what the engine knows of one container.
type Container struct {
	ID         string
	Name       string
	Image      string
	Hostname   string
	Labels     map[string]string
	State      State
	ExitCode   int
	OOMKilled  bool
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	// IPs maps a network name to the container's address on it.
	IPs map[string]string
	// HostPorts maps a container port to its published host address
	// ("127.0.0.1:49153"), only when the spec asked for PublishPorts.
	HostPorts map[int]string
	// Resources are the limits and reservations the engine enforces.
	Resources Resources
}

// Running reports whether the container's process is up.
func (c Container) Running() bool { return c.State == StateRunning }

// EventType names the engine events mini-deploy reacts to.
type EventType string

// Event types. EventResync is not an engine event: the stream sends it after
// it has (re)connected, because events may have been missed meanwhile and the
// consumer must list everything again.
const (
	EventStart   EventType = "start"
	EventDie     EventType = "die"
	EventDestroy EventType = "destroy"
	EventOOM     EventType = "oom"
	EventPause   EventType = "pause"   // frozen by `docker pause`: alive, answering nothing
	EventUnpause EventType = "unpause" // thawed by `docker unpause`
	EventResync  EventType = "resync"
)

// Event is one engine event about a managed container.
type Event struct {
	Type        EventType
	ContainerID string
	Name        string
	Labels      map[string]string
	ExitCode    int // for EventDie
	Time        time.Time
}

// LogOptions select what Logs returns.
type LogOptions struct {
	Follow     bool
	Tail       int // last N lines; 0 means all, negative none (with Follow: only new lines)
	Timestamps bool
}

// ExecResult is the outcome of a command run inside a container; its output
// went to the writer Exec was given.
type ExecResult struct {
	ExitCode int
}

// BuildOptions describe an image build from a directory.
type BuildOptions struct {
	Dir        string            // build context
	Dockerfile string            // relative to Dir; default "Dockerfile"
	Tags       []string          // e.g. "luksa/kubia:v1"
	BuildArgs  map[string]string // --build-arg
	Labels     map[string]string
}

// Stats is a container's resource use, as `kubectl top` shows it.
type Stats struct {
	// CPUMilli is CPU time used per second, in thousandths of a core.
	CPUMilli int64
	// MemoryBytes is the working set: memory in use less the inactive
	// file cache, which the kernel can take back.
	MemoryBytes int64
}

// Network is a managed bridge network.
type Network struct {
	ID     string
	Name   string
	Subnet string
	Labels map[string]string
}

// Runtime is the container engine as the orchestrator sees it. Every method
// takes a context first and returns errors that wrap the sentinels above.
type Runtime interface {
	// Create makes a container (not started). ManagedLabel is added to the
	// spec's labels. A missing image is ErrImageNotFound (no pull is tried:
	// no registry is assumed); a taken name is ErrConflict.
	Create(ctx context.Context, spec ContainerSpec) (id string, err error)
	// Start starts a created or exited container.
	Start(ctx context.Context, id string) error
	// Stop sends the stop signal, waits up to grace, then kills. Stopping a
	// container that is not running is not an error.
	Stop(ctx context.Context, id string, grace time.Duration) error
	// Kill sends a signal ("SIGKILL" when empty) without waiting.
	Kill(ctx context.Context, id string, signal string) error
	// Remove deletes a container, killing it first if it runs. Removing one
	// that is already gone is ErrNotFound.
	Remove(ctx context.Context, id string) error
	// Inspect returns one managed container, by ID or name.
	Inspect(ctx context.Context, id string) (Container, error)
	// List returns the managed containers whose labels include every pair
	// of match (nil or empty: all managed containers), running or not.
	List(ctx context.Context, match map[string]string) ([]Container, error)
	// Events streams events about managed containers until ctx ends. It
	// reconnects on its own when the engine goes away and comes back, and
	// sends EventResync first and after every reconnect.
	Events(ctx context.Context) <-chan Event
	// Logs returns the container's output; with Follow it streams until ctx
	// ends or the container stops.
	Logs(ctx context.Context, id string, opts LogOptions) (io.ReadCloser, error)
	// Exec runs cmd in the running container and waits for it, writing its
	// stdout and stderr, interleaved, to out as they come: nothing is held
	// whole, so a command that prints without end costs no memory. A slow
	// out slows the command's output down.
	Exec(ctx context.Context, id string, cmd []string, out io.Writer) (ExecResult, error)
	// ImageExists reports whether ref is present on the engine.
	ImageExists(ctx context.Context, ref string) (bool, error)
	// Stats samples a running container's CPU and memory use (for `top`);
	// it may take a second, the engine's sampling interval.
	Stats(ctx context.Context, id string) (Stats, error)
	// BuildImage builds an image from a directory.
	BuildImage(ctx context.Context, opts BuildOptions) error
	// EnsureNetwork returns the managed bridge network called name, creating
	// it with labels (plus ManagedLabel) when absent.
	EnsureNetwork(ctx context.Context, name string, labels map[string]string) (Network, error)
	// RemoveNetwork deletes a managed network; a missing one is ErrNotFound.
	RemoveNetwork(ctx context.Context, name string) error
	// ListNetworks returns managed networks whose labels include match.
	ListNetworks(ctx context.Context, match map[string]string) ([]Network, error)
	// Ping reports whether the engine answers (ErrEngineUnavailable if not).
	Ping(ctx context.Context) error
	// Close releases the client.
	Close() error
}
