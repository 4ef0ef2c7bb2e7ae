package docker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// listInspectWorkers bounds the inspects List runs at once: the list call
// lacks exit codes and start/finish times, so every container is inspected.
const listInspectWorkers = 8

// Create makes a container from spec without starting it. The image must be
// present: nothing is pulled.
func (e *Engine) Create(ctx context.Context, spec rt.ContainerSpec) (string, error) {
	labels := maps.Clone(spec.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[rt.ManagedLabel] = "true"

	cfg := &container.Config{
		Hostname:   spec.Hostname,
		Env:        spec.Env,
		Image:      spec.Image,
		Labels:     labels,
		WorkingDir: spec.WorkingDir,
		StopSignal: spec.StopSignal,
	}
	if len(spec.Command) > 0 {
		cfg.Entrypoint = spec.Command
	}
	if len(spec.Args) > 0 {
		cfg.Cmd = spec.Args
	}
	host := &container.HostConfig{Resources: container.Resources{
		Memory:            spec.Resources.MemoryLimit,
		MemoryReservation: spec.Resources.MemoryReservation,
		NanoCPUs:          spec.Resources.NanoCPUs,
		CPUShares:         spec.Resources.CPUShares,
	}}
	if spec.Resources.MemoryLimit > 0 {
		// No swap on top of the limit, as under Kubernetes: Docker's
		// default would allow as much again in swap before the OOM kill.
		host.Resources.MemorySwap = spec.Resources.MemoryLimit
	}
	if spec.PublishPorts {
		cfg.ExposedPorts = nat.PortSet{}
		host.PortBindings = nat.PortMap{}
		ports := spec.Ports
		// The ports the image EXPOSEs are published too: a manifest need
		// not declare the port its Service targets (the seed's does not).
		if img, err := e.cli.ImageInspect(ctx, spec.Image); err == nil && img.Config != nil {
			for p := range img.Config.ExposedPorts {
				if n, err := strconv.Atoi(strings.TrimSuffix(p, "/tcp")); err == nil && !slices.Contains(ports, n) {
					ports = append(ports, n)
				}
			}
		}
		for _, p := range ports {
			port := nat.Port(strconv.Itoa(p) + "/tcp")
			cfg.ExposedPorts[port] = struct{}{}
			// An empty host port asks the engine for an ephemeral one.
			host.PortBindings[port] = []nat.PortBinding{{HostIP: "127.0.0.1"}}
		}
	}
	var netCfg *network.NetworkingConfig
	if spec.Network != "" {
		// Engines before API 1.44 accept a missing network at create and
		// fail only at start; failing here keeps Create's contract.
		if _, found, err := e.networkByName(ctx, spec.Network); err != nil {
			return "", err
		} else if !found {
			return "", &engineError{kind: rt.ErrNotFound, err: fmt.Errorf("network %q not found", spec.Network)}
		}
		// Joining only this network keeps pods off the default bridge.
		host.NetworkMode = container.NetworkMode(spec.Network)
		netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			spec.Network: {},
		}}
	}

	resp, err := e.cli.ContainerCreate(ctx, cfg, host, netCfg, nil, spec.Name)
	if err == nil {
		return resp.ID, nil
	}
	if cerrdefs.IsNotFound(err) {
		// A missing network is also "not found": ask about the image to
		// tell which one is missing.
		if _, ierr := e.cli.ImageInspect(ctx, spec.Image); cerrdefs.IsNotFound(ierr) {
			return "", &engineError{kind: rt.ErrImageNotFound,
				err: fmt.Errorf("image %q not found: %w; build it first", spec.Image, err)}
		}
	}
	return "", mapErr(err)
}

// Start starts a created or exited managed container.
func (e *Engine) Start(ctx context.Context, id string) error {
	c, err := e.inspectManaged(ctx, id)
	if err != nil {
		return err
	}
	return mapErr(e.cli.ContainerStart(ctx, c.ID, container.StartOptions{}))
}

// Stop sends the container's stop signal and lets the engine kill it when
// grace runs out. The engine counts in whole seconds, so grace is rounded up:
// a process is never killed before the grace it was promised.
func (e *Engine) Stop(ctx context.Context, id string, grace time.Duration) error {
	c, err := e.inspectManaged(ctx, id)
	if err != nil {
		return err
	}
	secs := max(0, int(math.Ceil(grace.Seconds())))
	return mapErr(e.cli.ContainerStop(ctx, c.ID, container.StopOptions{Timeout: &secs}))
}

// Kill sends signal (SIGKILL when empty) to a managed container.
func (e *Engine) Kill(ctx context.Context, id string, signal string) error {
	c, err := e.inspectManaged(ctx, id)
	if err != nil {
		return err
	}
	if signal == "" {
		signal = "SIGKILL"
	}
	return mapErr(e.cli.ContainerKill(ctx, c.ID, signal))
}

// Remove deletes a managed container, killing it if it runs, with its
// anonymous volumes.
func (e *Engine) Remove(ctx context.Context, id string) error {
	c, err := e.inspectManaged(ctx, id)
	if err != nil {
		return err
	}
	return mapErr(e.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}))
}

// Inspect returns a managed container by ID or name.
func (e *Engine) Inspect(ctx context.Context, id string) (rt.Container, error) {
	c, err := e.inspectManaged(ctx, id)
	if err != nil {
		return rt.Container{}, err
	}
	return toContainer(c), nil
}

// List returns the managed containers carrying every label in match.
func (e *Engine) List(ctx context.Context, match map[string]string) ([]rt.Container, error) {
	args := labelFilter(match)
	summaries, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: args})
	if err != nil {
		return nil, mapErr(err)
	}

	out := make([]rt.Container, len(summaries))
	found := make([]bool, len(summaries))
	errs := make([]error, len(summaries))
	sem := make(chan struct{}, listInspectWorkers)
	var wg sync.WaitGroup
	for i, s := range summaries {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := e.inspectManaged(ctx, s.ID)
			switch {
			case errors.Is(err, rt.ErrNotFound):
				// Removed between the list and the inspect: gone.
			case err != nil:
				errs[i] = err
			default:
				out[i], found[i] = toContainer(c), true
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	result := make([]rt.Container, 0, len(out))
	for i, c := range out {
		if found[i] {
			result = append(result, c)
		}
	}
	slices.SortFunc(result, func(a, b rt.Container) int { return strings.Compare(a.Name, b.Name) })
	return result, nil
}

// inspectManaged inspects a container and treats one without ManagedLabel
// as nonexistent, so that no operation ever reaches a user's container.
func (e *Engine) inspectManaged(ctx context.Context, id string) (container.InspectResponse, error) {
	if strings.TrimSpace(id) == "" {
		// The client rejects an empty ID as an invalid argument; to callers
		// it is just a container that does not exist.
		return container.InspectResponse{}, notManaged("container", id)
	}
	c, err := e.cli.ContainerInspect(ctx, id)
	if err != nil {
		return container.InspectResponse{}, mapErr(err)
	}
	if c.Config == nil || c.Config.Labels[rt.ManagedLabel] != "true" {
		return container.InspectResponse{}, notManaged("container", id)
	}
	return c, nil
}

func labelFilter(match map[string]string) filters.Args {
	args := filters.NewArgs(filters.Arg("label", rt.ManagedLabel+"=true"))
	for k, v := range match {
		args.Add("label", k+"="+v)
	}
	return args
}

func toContainer(c container.InspectResponse) rt.Container {
	out := rt.Container{
		ID:       c.ID,
		Name:     strings.TrimPrefix(c.Name, "/"),
		Hostname: c.Config.Hostname,
		Image:    c.Config.Image,
		Labels:   c.Config.Labels,
		IPs:      map[string]string{},
	}
	out.CreatedAt = parseTime(c.Created)
	if h := c.HostConfig; h != nil {
		out.Resources = rt.Resources{MemoryLimit: h.Memory, MemoryReservation: h.MemoryReservation,
			NanoCPUs: h.NanoCPUs, CPUShares: h.CPUShares}
	}
	if s := c.State; s != nil {
		out.State = rt.State(s.Status)
		out.ExitCode = s.ExitCode
		out.OOMKilled = s.OOMKilled
		out.StartedAt = parseTime(s.StartedAt)
		out.FinishedAt = parseTime(s.FinishedAt)
	}
	if ns := c.NetworkSettings; ns != nil {
		for name, ep := range ns.Networks {
			if ep != nil && ep.IPAddress != "" {
				out.IPs[name] = ep.IPAddress
			}
		}
		for port, bindings := range ns.Ports {
			if port.Proto() != "tcp" {
				continue
			}
			for _, b := range bindings {
				if b.HostPort != "" {
					if out.HostPorts == nil {
						out.HostPorts = map[int]string{}
					}
					out.HostPorts[port.Int()] = net.JoinHostPort(b.HostIP, b.HostPort)
					break
				}
			}
		}
	}
	return out
}

// parseTime reads the engine's RFC 3339 times; its "never" is year 1, which
// parses to the zero time.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
