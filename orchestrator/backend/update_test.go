package backend

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Update replaces labels and spec, keeps what the server owns, and refuses
// a stale resourceVersion.
func TestUpdateReplacesAndChecksResourceVersion(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	applyAction(t, h, mergeDeployment)
	live := getDeployment(t, h)

	d := live.DeepCopy().(*api.Deployment)
	d.Labels = map[string]string{"app": "kubia", "team": "blue"}
	d.Spec.Replicas = new(int32)
	got, err := h.o.Update(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	u := got.(*api.Deployment)
	if u.Labels["team"] != "blue" || *u.Spec.Replicas != 0 || u.UID != live.UID || u.Generation != live.Generation+1 || u.ResourceVersion == live.ResourceVersion {
		t.Errorf("after update: labels %v replicas %d uid %q gen %d rv %q; live had uid %q gen %d rv %q",
			u.Labels, *u.Spec.Replicas, u.UID, u.Generation, u.ResourceVersion, live.UID, live.Generation, live.ResourceVersion)
	}

	// The copy read before that update is stale now.
	stale := live.DeepCopy().(*api.Deployment)
	stale.Labels = map[string]string{"app": "kubia", "team": "red"}
	if _, err := h.o.Update(ctx, stale); !errors.Is(err, api.ErrConflict) {
		t.Errorf("stale update: %v, want a conflict", err)
	}
	if d := getDeployment(t, h); d.Labels["team"] != "blue" {
		t.Errorf("a refused update was written: labels %v", d.Labels)
	}

	bad := getDeployment(t, h)
	bad.Spec.Template.Labels = map[string]string{"app": "other"}
	if _, err := h.o.Update(ctx, bad); err == nil || !strings.Contains(err.Error(), "selector") {
		t.Errorf("template not matching the selector: %v, want invalid", err)
	}
	missing := getDeployment(t, h)
	missing.Name, missing.ResourceVersion = "nope", ""
	if _, err := h.o.Update(ctx, missing); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("update of a missing object: %v, want not found", err)
	}
}

// Diff shows the live object and the one an apply would store, and
// stores nothing.
func TestDiffWritesNothing(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	applyAction(t, h, mergeDeployment)
	live := getDeployment(t, h)

	next := strings.Replace(mergeDeployment, "luksa/kubia:v1", "luksa/kubia:v2", 1)
	objs, err := api.DecodeManifests("next.yaml", []byte(next))
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.o.Diff(ctx, objs)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Kind != api.KindDeployment || res[0].Name != "kubia" || res[0].Live == nil {
		t.Fatalf("diff results %+v", res)
	}
	if !strings.Contains(string(res[0].Live), "luksa/kubia:v1") || !strings.Contains(string(res[0].Merged), "luksa/kubia:v2") {
		t.Errorf("live %s\nmerged %s", res[0].Live, res[0].Merged)
	}
	if d := getDeployment(t, h); d.ResourceVersion != live.ResourceVersion {
		t.Errorf("diff wrote: rv %s -> %s", live.ResourceVersion, d.ResourceVersion)
	}

	same, _ := api.DecodeManifests("same.yaml", []byte(mergeDeployment))
	res, err = h.o.Diff(ctx, same)
	if err != nil {
		t.Fatal(err)
	}
	if string(res[0].Live) != string(res[0].Merged) {
		t.Errorf("the applied manifest again differs:\nlive   %s\nmerged %s", res[0].Live, res[0].Merged)
	}
}
