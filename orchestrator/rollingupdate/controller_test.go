package rollingupdate

import (
	"context"
	"fmt"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
)

// deleter records what the controller asks to delete.
type deleter struct{ deleted []api.Key }

func (d *deleter) Delete(ctx context.Context, key api.Key, cascade string) (api.Object, error) {
	d.deleted = append(d.deleted, key)
	return nil, nil
}

// The controller alone, on a store: each Reconcile takes one step, and the
// steps scale the new controller up and the old one down, one pod at a time,
// keeping the desired count available, then delete the old one.
func TestRollingUpdateStepsOnAStoreAlone(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	objs, err := api.DecodeManifests("rc.yaml", []byte(`apiVersion: v1
kind: ReplicationController
metadata: {name: kubia-v1}
spec:
  replicas: 2
  selector: {app: kubia}
  template:
    metadata: {labels: {app: kubia}}
    spec:
      containers: [{name: nodejs, image: "luksa/kubia:v1"}]
`))
	if err != nil {
		t.Fatal(err)
	}
	api.SetDefaults(objs[0])
	if _, err := st.Create(objs[0]); err != nil {
		t.Fatal(err)
	}
	ru := &api.RollingUpdate{
		TypeMeta:   api.TypeMeta{APIVersion: "mini-deploy.io/v1", Kind: api.KindRollingUpdate},
		ObjectMeta: api.ObjectMeta{Name: "kubia-v1", Namespace: "default"},
		Spec:       api.RollingUpdateSpec{From: "kubia-v1", To: "kubia-v2", Image: "luksa/kubia:v2", UpdatePeriod: "1ns"},
		Status:     api.RollingUpdateStatus{Phase: api.RollingUpdateRunning},
	}
	if _, err := st.Create(ru); err != nil {
		t.Fatal(err)
	}
	rc := func(name string) *api.ReplicationController {
		obj, err := st.Get(api.Key{Kind: api.KindReplicationController, Namespace: "default", Name: name})
		if err != nil {
			return nil
		}
		return obj.(*api.ReplicationController)
	}
	// A ReplicationController controller that is done at once: every new
	// replica is available, and the old pods are gone when scaled away.
	settle := func() {
		if nw := rc("kubia-v2"); nw != nil {
			nw.Status.ObservedGeneration, nw.Status.AvailableReplicas = nw.Generation, api.Replicas(nw.Spec.Replicas)
			nw.ResourceVersion = ""
			if _, err := st.UpdateStatus(nw); err != nil {
				t.Fatal(err)
			}
		}
	}
	oldPods := func(string) int { return int(api.Replicas(rc("kubia-v1").Spec.Replicas)) }
	d := &deleter{}
	c := NewController(st, oldPods, d)
	key := api.KeyOf(ru)

	var steps []string
	for range 20 {
		if _, err := c.Reconcile(ctx, key); err != nil {
			t.Fatal(err)
		}
		settle()
		old, nw := rc("kubia-v1"), rc("kubia-v2")
		if nw == nil {
			t.Fatal("the first step creates the new controller")
		}
		if len(d.deleted) > 0 {
			break
		}
		s := ""
		if old != nil {
			s = fmt.Sprintf("%d/%d", api.Replicas(old.Spec.Replicas), api.Replicas(nw.Spec.Replicas))
		}
		if len(steps) == 0 || steps[len(steps)-1] != s {
			steps = append(steps, s)
		}
	}
	want := []string{"2/0", "2/1", "1/1", "1/2", "0/2"}
	if len(steps) != len(want) {
		t.Fatalf("old/new replicas by step %v, want %v", steps, want)
	}
	for i := range want {
		if steps[i] != want[i] {
			t.Fatalf("old/new replicas by step %v, want %v", steps, want)
		}
	}
	if len(d.deleted) != 1 || d.deleted[0].Name != "kubia-v1" {
		t.Errorf("deleted %v, want the old controller once", d.deleted)
	}
	if img := rc("kubia-v2").Spec.Template.Spec.Containers[0].Image; img != "luksa/kubia:v2" {
		t.Errorf("new controller's image %s", img)
	}
}
