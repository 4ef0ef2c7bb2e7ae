// Package docker implements runtime.Runtime on a Docker engine through its
// HTTP API (github.com/docker/docker/client). It never pulls images: no
// registry is assumed, so images are built locally. No Docker type leaves
// this package.
package docker

import (
	"context"

	"github.com/docker/docker/client"

	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// Engine is a runtime.Runtime backed by a Docker engine.
type Engine struct {
	cli *client.Client
}

var _ rt.Runtime = (*Engine)(nil)

// New connects to the engine named by the environment (DOCKER_HOST and
// friends), negotiating the API version so that engines from API 1.41 on
// work. The engine need not answer yet: use Ping to check it.
func New(ctx context.Context) (*Engine, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, mapErr(err)
	}
	// A failed negotiation is retried by the client on the next request,
	// which is what lets New succeed while the engine is still starting.
	cli.NegotiateAPIVersion(ctx)
	return &Engine{cli: cli}, nil
}

// Ping reports whether the engine answers.
func (e *Engine) Ping(ctx context.Context) error {
	_, err := e.cli.Ping(ctx)
	return mapErr(err)
}

// Close releases the client's connections.
func (e *Engine) Close() error { return e.cli.Close() }

// Host is the address of the engine the client talks to, for messages.
func (e *Engine) Host() string { return e.cli.DaemonHost() }
