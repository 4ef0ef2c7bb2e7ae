package docker

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// EnsureNetwork returns the managed bridge network called name, creating it
// when absent. A network of that name that mini-deploy did not create is a
// conflict: it is the user's, and pods must not join it.
func (e *Engine) EnsureNetwork(ctx context.Context, name string, labels map[string]string) (rt.Network, error) {
	n, found, err := e.networkByName(ctx, name)
	if err != nil {
		return rt.Network{}, err
	}
	if !found {
		all := maps.Clone(labels)
		if all == nil {
			all = map[string]string{}
		}
		all[rt.ManagedLabel] = "true"
		_, err := e.cli.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge", Labels: all})
		if err != nil && !isConflict(err) {
			return rt.Network{}, mapErr(err)
		}
		// Created by us or, on a conflict, by a concurrent caller: read it
		// back either way, for its subnet and to check who owns it.
		if n, found, err = e.networkByName(ctx, name); err != nil {
			return rt.Network{}, err
		}
		if !found {
			return rt.Network{}, fmt.Errorf("network %q: created but not found", name)
		}
	}
	if n.Labels[rt.ManagedLabel] != "true" {
		return rt.Network{}, &engineError{kind: rt.ErrConflict,
			err: fmt.Errorf("network %q exists and is not managed by mini-deploy (no %s label)", name, rt.ManagedLabel)}
	}
	return toNetwork(n), nil
}

// RemoveNetwork deletes the managed network called name.
func (e *Engine) RemoveNetwork(ctx context.Context, name string) error {
	n, found, err := e.networkByName(ctx, name)
	if err != nil {
		return err
	}
	if !found || n.Labels[rt.ManagedLabel] != "true" {
		return notManaged("network", name)
	}
	return mapErr(e.cli.NetworkRemove(ctx, n.ID))
}

// ListNetworks returns the managed networks carrying every label in match.
func (e *Engine) ListNetworks(ctx context.Context, match map[string]string) ([]rt.Network, error) {
	list, err := e.cli.NetworkList(ctx, network.ListOptions{Filters: labelFilter(match)})
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]rt.Network, 0, len(list))
	for _, n := range list {
		out = append(out, toNetwork(n))
	}
	return out, nil
}

// networkByName finds a network by exact name: the engine's name filter
// matches substrings, and inspect by name also matches ID prefixes.
func (e *Engine) networkByName(ctx context.Context, name string) (network.Summary, bool, error) {
	list, err := e.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
	if err != nil {
		return network.Summary{}, false, mapErr(err)
	}
	for _, n := range list {
		if n.Name == name {
			return n, true, nil
		}
	}
	return network.Summary{}, false, nil
}

func isConflict(err error) bool { return errors.Is(mapErr(err), rt.ErrConflict) }

func toNetwork(n network.Summary) rt.Network {
	out := rt.Network{ID: n.ID, Name: n.Name, Labels: maps.Clone(n.Labels)}
	if len(n.IPAM.Config) > 0 {
		out.Subnet = n.IPAM.Config[0].Subnet
	}
	return out
}
