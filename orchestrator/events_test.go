package orchestrator_test

import (
	"context"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/internal/orchtest"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

// An object deleted and created again under its name is another object, as
// kubectl describe tells them apart by uid: the events of the first are not
// listed for the second.
func TestEventsOfARecreatedObjectAreItsOwn(t *testing.T) {
	_, h := orchtest.StartSeed(t)
	ctx := context.Background()
	rcUID := func() string {
		obj, err := h.O.Get(ctx, api.KindReplicationController, "default", "kubia-v1")
		if err != nil {
			t.Fatal(err)
		}
		return obj.Meta().UID
	}
	eventsOf := func(uid string) []*api.Event {
		evs, err := h.O.Events(ctx, "default", &api.ObjectReference{Kind: api.KindReplicationController, Name: "kubia-v1", UID: uid})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	first := rcUID()
	h.Eventually("the first RC's events", func() bool { return len(eventsOf(first)) >= 3 })
	if _, err := h.O.Delete(ctx, api.KindReplicationController, "default", "kubia-v1", server.DeleteOptions{Cascade: "foreground"}); err != nil {
		t.Fatal(err)
	}
	h.Eventually("no pods", func() bool { return len(h.Pods("app=kubia")) == 0 })
	h.Apply(orchtest.SeedRC())
	second := rcUID()
	if second == first {
		t.Fatal("the recreated RC has the old uid")
	}
	h.Eventually("the second RC's events", func() bool { return len(eventsOf(second)) >= 3 })
	for _, ev := range eventsOf(second) {
		if ev.InvolvedObject.UID != second {
			t.Errorf("event of uid %s listed for %s: %s", ev.InvolvedObject.UID, second, ev.Message)
		}
	}
}
