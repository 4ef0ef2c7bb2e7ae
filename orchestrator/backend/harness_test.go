package backend

import (
	"context"
	"log/slog"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// harness drives the API layer alone, on a store of its own: no node agent,
// no data plane, no engine. Tests of Deployments and ReplicaSets need none,
// and a call that reached one would fail on its nil interface.
type harness struct {
	t *testing.T
	o *API
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &harness{t: t, o: New(st, nil, nil, nil, Options{}, slog.New(slog.DiscardHandler))}
}

func (h *harness) apply(manifest string) []server.ApplyResult {
	h.t.Helper()
	objs, err := api.DecodeManifests("test.yaml", []byte(manifest))
	if err != nil {
		h.t.Fatal(err)
	}
	res, err := h.o.Apply(context.Background(), objs, server.ApplyOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}
