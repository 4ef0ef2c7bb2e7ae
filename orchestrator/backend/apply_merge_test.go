package backend

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

func TestThreeWay(t *testing.T) {
	js := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct{ name, live, last, applied, want string }{
		{"a field neither manifest set is kept",
			`{"spec":{"replicas":3,"paused":true}}`, `{"spec":{}}`, `{"spec":{}}`,
			`{"spec":{"replicas":3,"paused":true}}`},
		{"a field the manifest sets wins",
			`{"spec":{"replicas":3}}`, `{"spec":{"replicas":2}}`, `{"spec":{"replicas":2}}`,
			`{"spec":{"replicas":2}}`},
		{"a field dropped from the manifest goes",
			`{"metadata":{"labels":{"app":"a","tier":"web","set-by":"x"}}}`,
			`{"metadata":{"labels":{"app":"a","tier":"web"}}}`,
			`{"metadata":{"labels":{"app":"a"}}}`,
			`{"metadata":{"labels":{"app":"a","set-by":"x"}}}`},
		{"lists are replaced whole",
			`{"spec":{"ports":[{"port":80,"nodePort":30001},{"port":81}]}}`, `{}`, `{"spec":{"ports":[{"port":80}]}}`,
			`{"spec":{"ports":[{"port":80}]}}`},
		{"no last manifest removes nothing",
			`{"spec":{"replicas":3,"paused":true}}`, `null`, `{"spec":{"replicas":2}}`,
			`{"spec":{"replicas":2,"paused":true}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := threeWay(js(tc.live), js(tc.last), js(tc.applied)); !reflect.DeepEqual(got, js(tc.want)) {
				b, _ := json.Marshal(got)
				t.Errorf("got %s, want %s", b, tc.want)
			}
		})
	}
}

// mergeDeployment is a Deployment with a label that a later apply drops;
// the control plane's tests use the same file.
var mergeDeployment = readFile("../testdata/kubia-deployment.yaml")

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func getDeployment(t *testing.T, h *harness) *api.Deployment {
	t.Helper()
	obj, err := h.o.Get(context.Background(), api.KindDeployment, "default", "kubia")
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*api.Deployment)
}

func applyAction(t *testing.T, h *harness, manifest string) string {
	t.Helper()
	res := h.apply(manifest)
	if len(res) != 1 {
		t.Fatalf("apply results %v", res)
	}
	return res[0].Action
}

// What scale, rollout pause and rollout restart set survives an apply of a
// manifest that does not set it, as with kubectl apply; what the manifest
// dropped goes.
func TestApplyKeepsWhatOthersSet(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if a := applyAction(t, h, mergeDeployment); a != "created" {
		t.Fatalf("first apply: %s", a)
	}
	if d := getDeployment(t, h); d.Annotations[api.AnnotationLastApplied] == "" || strings.Contains(d.Annotations[api.AnnotationLastApplied], "replicas") {
		t.Fatalf("last-applied %q: want the manifest as written, without defaults", d.Annotations[api.AnnotationLastApplied])
	}

	if _, err := h.o.Scale(ctx, api.KindDeployment, "default", "kubia", 3); err != nil {
		t.Fatal(err)
	}
	if _, err := h.o.Rollout(ctx, server.RolloutRequest{Action: server.RolloutRestart, Namespace: "default", Name: "kubia"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.o.Rollout(ctx, server.RolloutRequest{Action: server.RolloutPause, Namespace: "default", Name: "kubia"}); err != nil {
		t.Fatal(err)
	}
	if a := applyAction(t, h, mergeDeployment); a != "unchanged" {
		t.Errorf("the same manifest again: %s, want unchanged", a)
	}
	d := getDeployment(t, h)
	if *d.Spec.Replicas != 3 || !d.Spec.Paused || d.Spec.Template.Annotations[api.AnnotationRestartedAt] == "" {
		t.Errorf("after apply: replicas %d, paused %v, restartedAt %q; want 3, true, kept",
			*d.Spec.Replicas, d.Spec.Paused, d.Spec.Template.Annotations[api.AnnotationRestartedAt])
	}

	// A new image, one label less, replicas now set: configured, and the
	// dropped label is gone while the scale is overridden.
	next := strings.Replace(mergeDeployment, "luksa/kubia:v1", "luksa/kubia:v2", 1)
	next = strings.Replace(next, "    tier: web\n", "", 1)
	next = strings.Replace(next, "spec:\n  selector:", "spec:\n  replicas: 2\n  selector:", 1)
	if a := applyAction(t, h, next); a != "configured" {
		t.Errorf("a changed manifest: %s, want configured", a)
	}
	d = getDeployment(t, h)
	if _, ok := d.Labels["tier"]; ok || *d.Spec.Replicas != 2 || d.Spec.Template.Spec.Containers[0].Image != "luksa/kubia:v2" || !d.Spec.Paused {
		t.Errorf("after the changed apply: labels %v, replicas %d, image %s, paused %v",
			d.Labels, *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image, d.Spec.Paused)
	}

	// replicas dropped from the manifest again: back to the default.
	if a := applyAction(t, h, strings.Replace(next, "  replicas: 2\n", "", 1)); a != "configured" {
		t.Errorf("replicas dropped: %s, want configured", a)
	}
	if d = getDeployment(t, h); *d.Spec.Replicas != api.DefaultReplicas {
		t.Errorf("replicas dropped from the manifest: %d, want the default %d", *d.Spec.Replicas, api.DefaultReplicas)
	}
}
