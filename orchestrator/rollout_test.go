package orchestrator_test

import (
	"context"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/internal/orchtest"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
	"github.com/mini-deploy/mini-deploy/runtime/fake"
)

// rollout undo to the revision that runs already does nothing and says so;
// kubectl exits 0 for it.
func TestUndoToTheCurrentRevisionIsANotice(t *testing.T) {
	f := fake.New()
	f.AddImage("luksa/kubia:v1")
	h := orchtest.New(t, f, t.TempDir())
	h.Apply(orchtest.KubiaDeployment())
	h.Eventually("revision 1", func() bool { return getDeployment(t, h).Annotations[api.AnnotationRevision] == "1" })
	resp, err := h.O.Rollout(context.Background(), server.RolloutRequest{Action: server.RolloutUndo, Namespace: "default", Name: "kubia", Revision: 1})
	if err != nil || resp.Message != "deployment.apps/kubia skipped rollback (current template already matches revision 1)" {
		t.Errorf("undo to the current revision: %q, %v", resp.Message, err)
	}
}

func getDeployment(t *testing.T, h *orchtest.Harness) *api.Deployment {
	t.Helper()
	obj, err := h.O.Get(context.Background(), api.KindDeployment, "default", "kubia")
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*api.Deployment)
}
