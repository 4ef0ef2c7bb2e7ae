package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// SocketSuffix ends the name of every data plane's socket in a fleet's
// directory: <pid>.sock.
const SocketSuffix = ".sock"

// SocketPath is where the data-plane process pid listens in dir.
func SocketPath(dir string, pid int) string {
	return filepath.Join(dir, strconv.Itoa(pid)+SocketSuffix)
}

// Sockets lists the sockets in dir, oldest process first (by pid order is
// not age; the fleet does not depend on order).
func Sockets(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), SocketSuffix) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// FleetOptions are what a Fleet is built from.
type FleetOptions struct {
	Dir string // where data planes put their sockets
	// Argv is the control plane's command line, which a data plane runs
	// again if the control plane crashes.
	Argv []string
	// Spawn starts a data-plane process that will listen in Dir; the Fleet
	// calls it when none answers.
	Spawn func() error
	Log   *slog.Logger
}

// Fleet is the control plane's side of the data planes: every process with a
// socket in a directory, each sent the same State and each asked to drain.
// It finds new processes (an upgrade's), forgets dead ones, and starts one
// when none is left, pushing the last State to each as it appears.
type Fleet struct {
	opts FleetOptions
	log  *slog.Logger

	mu      sync.Mutex // serialises pushes, so every member sees states in order
	members map[string]*member
	state   State
	pushed  bool // a State was given: members found later get it
	kick    chan struct{}
	// handedOff is when a member last said it handed its listeners over:
	// the process that took them appears in a moment, and none is started
	// in its place meanwhile.
	handedOff time.Time
}

type member struct {
	c       *Client
	session *Session
	status  Status
}

// NewFleet returns a Fleet; Run keeps it up to date.
func NewFleet(opts FleetOptions) *Fleet {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Fleet{opts: opts, log: opts.Log, members: map[string]*member{}, kick: make(chan struct{}, 1)}
}

// Connect finds the running data planes, starting one when there is none,
// and waits until one answers. It sends no State.
func (f *Fleet) Connect(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ensureLocked(ctx)
}

// ensureLocked makes members hold every data plane that answers, and starts
// one if none does.
func (f *Fleet) ensureLocked(ctx context.Context) error {
	f.scanLocked(ctx)
	for len(f.members) == 0 && time.Since(f.handedOff) < handoffGrace {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		f.scanLocked(ctx)
	}
	if len(f.members) > 0 {
		return nil
	}
	if f.opts.Spawn == nil {
		return fmt.Errorf("no data plane answers in %s", f.opts.Dir)
	}
	f.log.Info("no data plane answers; starting one")
	if err := f.opts.Spawn(); err != nil {
		return fmt.Errorf("start a data plane: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(f.members) == 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("the data plane started did not answer in %s within 30s", f.opts.Dir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		f.scanLocked(ctx)
	}
	return nil
}

// scanLocked adds the data planes that answer and are not members yet,
// giving each the last State, and removes the sockets of dead ones.
func (f *Fleet) scanLocked(ctx context.Context) {
	for _, sock := range Sockets(f.opts.Dir) {
		if _, ok := f.members[sock]; ok {
			continue
		}
		c := NewClient(sock)
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err := c.OpenSession(sctx, f.opts.Argv)
		cancel()
		if err != nil {
			c.Close()
			if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrNotExist) {
				// Its process is gone (kill -9 leaves the file).
				os.Remove(sock)
			}
			continue
		}
		m := &member{c: c, session: s}
		if f.pushed {
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			st, err := c.Apply(actx, f.state)
			cancel()
			if err != nil {
				s.Close()
				c.Close()
				continue
			}
			m.status = st
		} else if info, err := c.Info(ctx); err == nil {
			m.status = info.Status
		}
		f.members[sock] = m
		f.log.Info("data plane joined", "socket", sock, "pid", m.status.PID, "version", m.status.Version)
		go func() {
			<-s.End()
			select {
			case f.kick <- struct{}{}:
			default:
			}
		}()
	}
}

// handoffGrace is how long after a handoff the Fleet waits for the process
// that took over before it starts one.
const handoffGrace = 10 * time.Second

// dropLocked forgets a member.
func (f *Fleet) dropLocked(sock string, why string) {
	m := f.members[sock]
	if m == nil {
		return
	}
	if why == "handoff" || strings.Contains(why, ErrHandedOff.Error()) {
		f.handedOff = time.Now()
	}
	delete(f.members, sock)
	m.session.Close()
	m.c.Close()
	f.log.Info("data plane left", "socket", sock, "pid", m.status.PID, "why", why)
}

// Apply sends s to every data plane and returns their statuses merged. A
// member that handed off or died is replaced by the processes found now.
func (f *Fleet) Apply(ctx context.Context, s State) (Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state, f.pushed = s, true
	var merged Status
	for attempt := 0; ; attempt++ {
		if err := f.ensureLocked(ctx); err != nil {
			return Status{}, err
		}
		var retry bool
		merged = Status{}
		for sock, m := range f.members {
			st, err := m.c.Apply(ctx, s)
			if err != nil {
				if ctx.Err() != nil {
					return Status{}, err
				}
				f.dropLocked(sock, err.Error())
				retry = true
				continue
			}
			m.status = st
			merged.Version, merged.PID = st.Version, st.PID
			for a, why := range st.Failed {
				if merged.Failed == nil {
					merged.Failed = map[string]string{}
				}
				merged.Failed[a] = why
			}
		}
		if !retry || attempt == 5 {
			return merged, nil
		}
		// A newer process took over: its socket appears before it frees the
		// old one, but give it a moment.
		time.Sleep(20 * time.Millisecond)
	}
}

// Drain asks every data plane to drain addrs. A data plane that is gone
// sends nothing, so it counts as drained; one that handed off is replaced
// by the process that took over, which is asked in its stead.
func (f *Fleet) Drain(ctx context.Context, addrs []string) error {
	f.mu.Lock()
	members := maps.Clone(f.members)
	f.mu.Unlock()
	var first error
	var handedOff bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	for sock, m := range members {
		wg.Go(func() {
			err := m.c.Drain(ctx, addrs, 0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
			case errors.Is(err, ErrHandedOff):
				handedOff = true
			case errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrNotExist):
				f.log.Debug("drain: data plane gone", "socket", sock)
			default:
				if first == nil {
					first = err
				}
			}
		})
	}
	wg.Wait()
	if handedOff && first == nil {
		f.mu.Lock()
		f.scanLocked(ctx)
		f.mu.Unlock()
		return f.Drain(ctx, addrs)
	}
	return first
}

// Gather reads the metrics of every data plane; series that two processes
// both have (during a handoff) are taken from one.
func (f *Fleet) Gather() ([]*dto.MetricFamily, error) {
	f.mu.Lock()
	members := slices.Collect(maps.Values(f.members))
	f.mu.Unlock()
	var gs prometheus.Gatherers
	for _, m := range members {
		gs = append(gs, prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return m.c.Gather(ctx)
		}))
	}
	mfs, err := gs.Gather()
	if len(members) > 1 {
		err = nil // duplicates across the old and the new process
	}
	return mfs, err
}

// Members returns the status of each data plane, by socket.
func (f *Fleet) Members() map[string]Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]Status, len(f.members))
	for sock, m := range f.members {
		out[sock] = m.status
	}
	return out
}

// Run keeps the members current until ctx ends: a session that ends (the
// data plane died, handed off or shut down) or a new socket leads to a
// rescan, and when no data plane is left one is started and given the last
// State.
func (f *Fleet) Run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.kick:
		case <-tick.C:
		}
		f.mu.Lock()
		for sock, m := range f.members {
			select {
			case <-m.session.End():
				why := m.session.Why()
				if why == "" {
					why = "its session broke: the process died"
				}
				f.dropLocked(sock, why)
			default:
			}
		}
		if f.pushed {
			if err := f.ensureLocked(ctx); err != nil && ctx.Err() == nil {
				f.log.Error("no data plane", "error", err)
			}
		} else {
			f.scanLocked(ctx)
		}
		f.mu.Unlock()
	}
}

// Close ends every session; bye tells the data planes the control plane
// stops on purpose (otherwise they take it for a crash and start it again).
func (f *Fleet) Close(bye bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for sock, m := range f.members {
		if bye {
			m.session.Bye()
		}
		f.dropLocked(sock, "the control plane stops")
	}
}

// Shutdown stops every data plane found in dir (mini-deploy down), waiting
// until their sockets are gone or ctx ends. It returns how many it stopped.
func Shutdown(ctx context.Context, dir string) (int, error) {
	n := 0
	for _, sock := range Sockets(dir) {
		c := NewClient(sock)
		err := c.Shutdown(ctx)
		c.Close()
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrNotExist) {
				os.Remove(sock)
				continue
			}
			return n, err
		}
		n++
		for {
			if _, err := os.Stat(sock); errors.Is(err, os.ErrNotExist) {
				break
			}
			select {
			case <-ctx.Done():
				return n, fmt.Errorf("data plane %s did not exit: %w", sock, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return n, nil
}
