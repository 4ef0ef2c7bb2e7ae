package backend

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// rolling-update validates the controller it will create before it stores
// anything: a bad name or image fails now, not as a rollout that never ends.
func TestRollingUpdateValidatesTheNewController(t *testing.T) {
	h := newHarness(t)
	// The seed's controller alone: a Service would need the data plane.
	rc, err := os.ReadFile("../../examples/seed/rc-v1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h.apply(strings.Split(string(rc), "\n---")[0])
	ctx := context.Background()
	for _, tc := range []struct {
		spec api.RollingUpdateSpec
		want string
	}{
		{api.RollingUpdateSpec{From: "kubia-v1", To: "Bad_Name", Image: "luksa/kubia:v2"}, "Bad_Name"},
		{api.RollingUpdateSpec{From: "kubia-v1", To: "kubia-v2", Image: " luksa/kubia:v2"}, "whitespace"},
		{api.RollingUpdateSpec{From: "kubia-v1", To: "kubia-v2", Image: "luksa/kubia:v2", Container: "nope"}, "nope"},
	} {
		_, err := h.o.RollingUpdate(ctx, "default", tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("RollingUpdate(%+v) = %v, want an error naming %q", tc.spec, err, tc.want)
		}
		if _, err := h.o.store.Get(api.Key{Kind: api.KindRollingUpdate, Namespace: "default", Name: "kubia-v1"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a rolling update was stored: %v", err)
		}
	}
}
