package deployment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Kubernetes' proportional-scaling case (test/e2e/apps/deployment.go): a
// rollout to an image that never starts stalls at old 8 / new 5, and scaling
// from 10 to 30 in that state keeps the proportion: old 20 / new 13.
func TestProportionalScaling(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("nginx", 10, "nginx:1")
	d.Spec.Strategy = rolling(api.FromInt(3), api.FromInt(2))
	h.create(d)
	h.settle(nil)
	h.requireConverged()

	h.update(setImage("missing"))
	h.settle(nil)
	if old, cur := rsReplicas(h.byImage("nginx:1")), rsReplicas(h.byImage("missing")); old != 8 || cur != 5 {
		t.Fatalf("stalled rollout: old %d, new %d; want 8 and 5\n%s", old, cur, h.dump())
	}

	h.update(func(d *api.Deployment) { n := int32(30); d.Spec.Replicas = &n })
	h.reconcile()
	if old, cur := rsReplicas(h.byImage("nginx:1")), rsReplicas(h.byImage("missing")); old != 20 || cur != 13 {
		t.Fatalf("after scaling to 30: old %d, new %d; want 20 and 13\n%s", old, cur, h.dump())
	}
	h.settle(nil)
	if old, cur := rsReplicas(h.byImage("nginx:1")), rsReplicas(h.byImage("missing")); old != 20 || cur != 13 {
		t.Fatalf("settled after scaling to 30: old %d, new %d; want 20 and 13\n%s", old, cur, h.dump())
	}
}

// The rollout: 3 replicas, maxSurge 1, maxUnavailable 0. Never more
// than 4 pods asked for, never fewer than 3 available, and the events
// Kubernetes prints.
func TestRollingUpdateSurgeOneUnavailableZero(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("kubia", 3, "luksa/kubia:v1")
	d.Spec.Strategy = rolling(api.FromInt(1), api.FromInt(0))
	d.Annotations = map[string]string{api.AnnotationChangeCause: "first"}
	h.create(d)
	h.settle(nil)
	h.requireConverged()
	v1 := h.byImage("luksa/kubia:v1")
	if got := messages(h.rec.take()); !slices.Equal(got, []string{"Scaled up replica set " + v1.Name + " to 3"}) {
		t.Fatalf("events %q", got)
	}

	h.update(func(d *api.Deployment) {
		setImage("luksa/kubia:v2")(d)
		d.Annotations[api.AnnotationChangeCause] = "second"
	})
	steps := 0
	h.settle(func() {
		steps++
		size, available := h.totals()
		if size > 4 || available < 3 {
			t.Fatalf("step %d: %d pods asked for, %d available; want <= 4 and >= 3\n%s", steps, size, available, h.dump())
		}
	})
	h.requireConverged()
	v2 := h.byImage("luksa/kubia:v2")
	want := []string{
		"Scaled up replica set " + v2.Name + " to 1",
		"Scaled down replica set " + v1.Name + " to 2 from 3",
		"Scaled up replica set " + v2.Name + " to 2 from 1",
		"Scaled down replica set " + v1.Name + " to 1 from 2",
		"Scaled up replica set " + v2.Name + " to 3 from 2",
		"Scaled down replica set " + v1.Name + " to 0 from 1",
	}
	if got := messages(h.rec.take()); !slices.Equal(got, want) {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	final := h.deployment()
	if got := final.Annotations[api.AnnotationRevision]; got != "2" {
		t.Errorf("deployment revision %q; want 2", got)
	}
	if v1.Annotations[api.AnnotationRevision] != "1" || v2.Annotations[api.AnnotationRevision] != "2" {
		t.Errorf("replica set revisions %q, %q; want 1, 2", v1.Annotations[api.AnnotationRevision], v2.Annotations[api.AnnotationRevision])
	}
	if v2.Annotations[api.AnnotationChangeCause] != "second" || v1.Annotations[api.AnnotationChangeCause] != "first" {
		t.Errorf("change causes %q, %q", v1.Annotations[api.AnnotationChangeCause], v2.Annotations[api.AnnotationChangeCause])
	}
	hash := v2.Labels[api.LabelPodTemplateHash]
	if v2.Name != "kubia-"+hash || v2.Spec.Template.Labels[api.LabelPodTemplateHash] != hash || v2.Spec.Selector.MatchLabels[api.LabelPodTemplateHash] != hash {
		t.Errorf("new replica set %s: labels %v, template labels %v, selector %v", v2.Name, v2.Labels, v2.Spec.Template.Labels, v2.Spec.Selector.MatchLabels)
	}
	if ref := controllerOf(&v2.ObjectMeta); ref == nil || ref.UID != final.UID || ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" {
		t.Errorf("owner reference %+v", v2.OwnerReferences)
	}
	if v2.Annotations[AnnotationComplete] != "true" {
		t.Errorf("finished replica set not marked complete: %v", v2.Annotations)
	}
	avail, prog := condition(final, api.DeploymentAvailable), condition(final, api.DeploymentProgressing)
	if avail.Status != "True" || avail.Reason != api.ReasonMinimumReplicasAvailable || avail.Message != "Deployment has minimum availability." {
		t.Errorf("Available condition %+v", avail)
	}
	if prog.Status != "True" || prog.Reason != api.ReasonNewRSAvailable || prog.Message != fmt.Sprintf("ReplicaSet %q has successfully progressed.", v2.Name) {
		t.Errorf("Progressing condition %+v", prog)
	}
	if after := h.reconcile(); after != 0 {
		t.Errorf("a finished rollout asks to be requeued after %v", after)
	}
}

func TestRecreate(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("kubia", 3, "v1")
	d.Spec.Strategy = api.DeploymentStrategy{Type: api.RecreateDeploymentStrategyType}
	h.create(d)
	h.settle(nil)
	h.requireConverged()
	h.rec.take()

	h.update(setImage("v2"))
	h.settle(func() {
		old, cur := h.byImage("v1"), h.byImage("v2")
		if cur != nil && rsReplicas(cur) > 0 && old.Status.Replicas > 0 {
			t.Fatalf("new pods asked for while %d old ones run\n%s", old.Status.Replicas, h.dump())
		}
	})
	h.requireConverged()
	old, cur := h.byImage("v1"), h.byImage("v2")
	want := []string{"Scaled down replica set " + old.Name + " to 0 from 3", "Scaled up replica set " + cur.Name + " to 3"}
	if got := messages(h.rec.take()); !slices.Equal(got, want) {
		t.Fatalf("events %q; want %q", got, want)
	}
}

// A template change in the middle of a rollout starts over from there: the
// half-done ReplicaSet becomes an old one and is scaled away.
func TestRollover(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("kubia", 4, "v1")
	d.Spec.Strategy = rolling(api.FromInt(2), api.FromInt(1))
	h.create(d)
	h.settle(nil)

	h.update(setImage("v2"))
	h.step(nil)
	h.step(nil)
	if mid := h.byImage("v2"); mid == nil || rsReplicas(mid) == 0 || rsReplicas(mid) == 4 {
		t.Fatalf("rollout to v2 not half-way\n%s", h.dump())
	}
	h.update(setImage("v3"))
	h.settle(func() {
		if size, available := h.totals(); size > 6 || available < 3 {
			t.Fatalf("%d pods asked for, %d available\n%s", size, available, h.dump())
		}
	})
	h.requireConverged()
	rss := h.replicaSets()
	if len(rss) != 3 || image(&rss[2].Spec.Template) != "v3" || revisionOf(rss[2]) != 3 {
		t.Fatalf("replica sets after rollover\n%s", h.dump())
	}
	if h.byImage("v2").Annotations[AnnotationComplete] != "" {
		t.Errorf("the abandoned rollout was marked complete")
	}
}

func TestPauseResume(t *testing.T) {
	h := newHarness(t)
	h.create(newDeployment("kubia", 3, "v1"))
	h.settle(nil)

	h.update(func(d *api.Deployment) { d.Spec.Paused = true; setImage("v2")(d) })
	h.settle(nil)
	if len(h.replicaSets()) != 1 {
		t.Fatalf("a paused deployment rolled out\n%s", h.dump())
	}
	prog := condition(h.deployment(), api.DeploymentProgressing)
	if prog.Status != "Unknown" || prog.Reason != api.ReasonDeploymentPaused || prog.Message != "Deployment is paused" {
		t.Fatalf("Progressing condition while paused: %+v", prog)
	}
	if msg, done, err := RolloutStatus(h.deployment()); done || err != nil || msg != `Waiting for deployment "kubia" rollout to finish: 0 out of 3 new replicas have been updated...` {
		t.Errorf("rollout status while paused: %q %v %v", msg, done, err)
	}

	// Scaling still works while paused.
	h.update(func(d *api.Deployment) { n := int32(5); d.Spec.Replicas = &n })
	h.settle(nil)
	if rs := h.byImage("v1"); rsReplicas(rs) != 5 || rs.Status.AvailableReplicas != 5 {
		t.Fatalf("scale while paused\n%s", h.dump())
	}

	h.update(func(d *api.Deployment) { d.Spec.Paused = false })
	h.reconcile()
	if prog := condition(h.deployment(), api.DeploymentProgressing); prog.Reason != api.ReasonDeploymentResumed && prog.Reason != api.ReasonNewRSCreated {
		t.Fatalf("Progressing condition after resume: %+v", prog)
	}
	h.settle(nil)
	h.requireConverged()
	if image(&h.deployment().Spec.Template) != "v2" || rsReplicas(h.byImage("v2")) != 5 {
		t.Fatalf("after resume\n%s", h.dump())
	}
}

// DeploymentResumed lives only until the same pass's rollout replaces it,
// so this looks at the pause check alone.
func TestResumeSetsResumedCondition(t *testing.T) {
	h := newHarness(t)
	h.create(newDeployment("kubia", 1, "v1"))
	h.settle(nil)
	h.update(func(d *api.Deployment) { d.Spec.Paused = true })
	h.reconcile()
	h.update(func(d *api.Deployment) { d.Spec.Paused = false })
	s := &syncer{objs: storeObjects{h.st}, now: h.clock.Now, log: discardLogger()}
	if err := s.checkPausedConditions(h.deployment()); err != nil {
		t.Fatal(err)
	}
	prog := condition(h.deployment(), api.DeploymentProgressing)
	if prog.Status != "Unknown" || prog.Reason != api.ReasonDeploymentResumed || prog.Message != "Deployment is resumed" {
		t.Fatalf("Progressing condition after resume: %+v", prog)
	}
}

func TestRevisionHistoryLimit(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("kubia", 2, "v1")
	limit := int32(2)
	d.Spec.RevisionHistoryLimit = &limit
	h.create(d)
	h.settle(nil)
	for _, img := range []string{"v2", "v3", "v4", "v5"} {
		h.update(setImage(img))
		h.settle(nil)
		h.requireConverged()
	}
	var got []string
	for _, rs := range h.replicaSets() {
		got = append(got, fmt.Sprintf("%s@%d", image(&rs.Spec.Template), revisionOf(rs)))
	}
	if want := []string{"v3@3", "v4@4", "v5@5"}; !slices.Equal(got, want) {
		t.Fatalf("replica sets %v; want %v", got, want)
	}
}

func TestRollbackHistoryUndo(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("kubia", 2, "v1")
	d.Annotations = map[string]string{api.AnnotationChangeCause: "v1"}
	h.create(d)
	h.settle(nil)
	for _, img := range []string{"v2", "v3"} {
		h.update(func(d *api.Deployment) { setImage(img)(d); d.Annotations[api.AnnotationChangeCause] = img })
		h.settle(nil)
	}
	history := func() string {
		revs, err := History(h.st, "", "kubia")
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, r := range revs {
			parts = append(parts, fmt.Sprintf("%d:%s:%s", r.Revision, r.ChangeCause, image(&r.Template)))
		}
		return strings.Join(parts, " ")
	}
	if got := history(); got != "1:v1:v1 2:v2:v2 3:v3:v3" {
		t.Fatalf("history %q", got)
	}

	// undo: back to the previous revision, which gets the next number.
	out, err := Rollback(h.st, "", "kubia", 0)
	if err != nil {
		t.Fatal(err)
	}
	if image(&out.Spec.Template) != "v2" || out.Annotations[api.AnnotationChangeCause] != "v2" {
		t.Fatalf("undo gave image %s, change-cause %q", image(&out.Spec.Template), out.Annotations[api.AnnotationChangeCause])
	}
	if _, ok := out.Spec.Template.Labels[api.LabelPodTemplateHash]; ok {
		t.Fatalf("rollback copied pod-template-hash into the deployment: %v", out.Spec.Template.Labels)
	}
	h.settle(nil)
	h.requireConverged()
	if got := history(); got != "1:v1:v1 3:v3:v3 4:v2:v2" {
		t.Fatalf("history after undo %q", got)
	}
	if got := h.byImage("v2").Annotations[annotationRevisionHistory]; got != "2" {
		t.Errorf("revision-history %q; want 2", got)
	}
	if got := h.deployment().Annotations[api.AnnotationRevision]; got != "4" {
		t.Errorf("deployment revision %q; want 4", got)
	}

	// --to-revision
	if _, err := Rollback(h.st, "", "kubia", 1); err != nil {
		t.Fatal(err)
	}
	h.settle(nil)
	h.requireConverged()
	if got := history(); got != "3:v3:v3 4:v2:v2 5:v1:v1" {
		t.Fatalf("history after undo to 1 %q", got)
	}

	_, err = Rollback(h.st, "", "kubia", 9)
	if err == nil || err.Error() != "unable to find specified revision 9 in history" {
		t.Errorf("undo to a missing revision: %v", err)
	}
	_, err = Rollback(h.st, "", "kubia", 5)
	if !errors.Is(err, ErrRollbackSkipped) || err.Error() != "skipped rollback (current template already matches revision 5)" {
		t.Errorf("undo to the current revision: %v", err)
	}
	h.update(func(d *api.Deployment) { d.Spec.Paused = true })
	if _, err := Rollback(h.st, "", "kubia", 0); err == nil || !strings.Contains(err.Error(), "paused") {
		t.Errorf("undo of a paused deployment: %v", err)
	}
}

func TestProgressDeadline(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("kubia", 3, "v1")
	deadline := int32(60)
	d.Spec.ProgressDeadlineSeconds = &deadline
	h.create(d)
	h.settle(nil)

	h.update(setImage("missing"))
	h.settle(nil)
	after := h.reconcile()
	if after < 60*time.Second || after > 62*time.Second {
		t.Fatalf("requeue after %v; want about the 60s deadline", after)
	}
	h.clock.Advance(30 * time.Second)
	if after := h.reconcile(); after < 30*time.Second || after > 32*time.Second {
		t.Fatalf("requeue after %v half-way; want about 30s", after)
	}
	h.clock.Advance(31 * time.Second)
	if after := h.reconcile(); after != 0 {
		t.Fatalf("requeue after %v once timed out", after)
	}
	got := h.deployment()
	prog := condition(got, api.DeploymentProgressing)
	newRS := h.byImage("missing")
	if prog.Status != "False" || prog.Reason != api.ReasonProgressDeadlineExceeded || prog.Message != fmt.Sprintf("ReplicaSet %q has timed out progressing.", newRS.Name) {
		t.Fatalf("Progressing condition %+v", prog)
	}
	if _, done, err := RolloutStatus(got); done || err == nil || err.Error() != `deployment "kubia" exceeded its progress deadline` {
		t.Fatalf("rollout status: %v %v", done, err)
	}
	if image(&got.Spec.Template) != "missing" {
		t.Fatalf("rolled back without the annotation")
	}
	// v1 keeps serving.
	if rs := h.byImage("v1"); rs.Status.AvailableReplicas < 2 {
		t.Fatalf("old pods gone\n%s", h.dump())
	}
}

func TestAutoRollback(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("kubia", 3, "v1")
	deadline := int32(60)
	d.Spec.ProgressDeadlineSeconds = &deadline
	d.Annotations = map[string]string{api.AnnotationAutoRollback: "true", api.AnnotationChangeCause: "v1"}
	h.create(d)
	h.settle(nil)
	h.update(func(d *api.Deployment) { setImage("v2")(d); d.Annotations[api.AnnotationChangeCause] = "v2" })
	h.settle(nil)
	h.requireConverged()

	h.update(func(d *api.Deployment) { setImage("missing")(d); d.Annotations[api.AnnotationChangeCause] = "broken" })
	h.settle(nil)
	h.rec.take()
	bad := h.byImage("missing")
	h.clock.Advance(61 * time.Second)
	h.reconcile()

	got := h.deployment()
	if image(&got.Spec.Template) != "v2" || got.Annotations[api.AnnotationAutoRollback] != "true" || got.Annotations[api.AnnotationChangeCause] != "v2" {
		t.Fatalf("after the deadline: image %s, annotations %v", image(&got.Spec.Template), got.Annotations)
	}
	var warnings []recorded
	for _, e := range h.rec.take() {
		if e.Type == api.EventTypeWarning {
			warnings = append(warnings, e)
		}
	}
	want := fmt.Sprintf("progress deadline exceeded for revision 3 (ReplicaSet %q); rolled back to revision 2", bad.Name)
	if len(warnings) != 1 || warnings[0].Reason != "RolledBack" || warnings[0].Message != want {
		t.Fatalf("warnings %+v; want RolledBack %q", warnings, want)
	}

	h.settle(nil)
	h.requireConverged()
	if revisionOf(h.byImage("v2")) != 4 {
		t.Fatalf("v2 not renumbered\n%s", h.dump())
	}
	// It stays there: long after, nothing rolls again.
	for range 5 {
		h.clock.Advance(10 * time.Minute)
		h.settle(nil)
	}
	if got := h.deployment(); image(&got.Spec.Template) != "v2" {
		t.Fatalf("moved on to %s", image(&got.Spec.Template))
	}
	for _, e := range h.rec.take() {
		if e.Type == api.EventTypeWarning {
			t.Fatalf("warning after the rollback: %+v", e)
		}
	}
}

// A rollout that times out with nothing complete to return to stays put and
// says so once.
func TestAutoRollbackWithoutCompleteRevision(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("kubia", 2, "missing")
	deadline := int32(10)
	d.Spec.ProgressDeadlineSeconds = &deadline
	d.Annotations = map[string]string{api.AnnotationAutoRollback: "true"}
	h.create(d)
	h.settle(nil)
	h.clock.Advance(11 * time.Second)
	h.settle(nil)
	h.clock.Advance(time.Hour)
	h.settle(nil)
	var warnings []string
	for _, e := range h.rec.take() {
		if e.Type == api.EventTypeWarning {
			warnings = append(warnings, e.Reason)
		}
	}
	if !slices.Equal(warnings, []string{"RollbackSkipped"}) {
		t.Fatalf("warnings %v", warnings)
	}
	if image(&h.deployment().Spec.Template) != "missing" {
		t.Fatal("template changed")
	}
}

func TestAdoptionAndForeignOwners(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("kubia", 2, "v1")
	api.SetDefaults(d)
	hash := api.ComputeHash(&d.Spec.Template, nil)
	// An orphan with the Deployment's own template, left by a deletion
	// with --cascade=orphan, and one owned by some other controller.
	orphan := &api.ReplicaSet{
		TypeMeta:   api.TypeMeta{APIVersion: "apps/v1", Kind: api.KindReplicaSet},
		ObjectMeta: api.ObjectMeta{Name: "kubia-" + hash, Namespace: "default", Labels: map[string]string{"app": "kubia", api.LabelPodTemplateHash: hash}},
		Spec: api.ReplicaSetSpec{
			Selector: selectorWithHash(d.Spec.Selector, hash),
			Template: *api.Copy(&d.Spec.Template),
		},
	}
	orphan.Spec.Template.Labels = withLabel(orphan.Spec.Template.Labels, api.LabelPodTemplateHash, hash)
	setRSReplicas(orphan, 2)
	yes := true
	foreign := orphan.DeepCopy().(*api.ReplicaSet)
	foreign.Name = "other"
	foreign.OwnerReferences = []api.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "other", UID: "not-kubia", Controller: &yes}}
	for _, rs := range []*api.ReplicaSet{orphan, foreign} {
		if _, err := h.st.Create(rs); err != nil {
			t.Fatal(err)
		}
	}
	h.simulate()
	h.simulate()
	h.create(d)
	h.settle(nil)
	h.requireConverged()
	rss := h.replicaSets()
	if len(rss) != 1 || rss[0].Name != "kubia-"+hash || revisionOf(rss[0]) != 1 {
		t.Fatalf("adopted\n%s", h.dump())
	}
	if got := h.rec.take(); len(got) != 0 {
		t.Errorf("adopting a full replica set scaled something: %v", got)
	}
	obj, err := h.st.Get(api.Key{Kind: api.KindReplicaSet, Namespace: "default", Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if ref := controllerOf(obj.Meta()); ref.UID != "not-kubia" || rsReplicas(obj.(*api.ReplicaSet)) != 2 {
		t.Fatalf("foreign replica set touched: %+v", obj)
	}
}

// A ReplicaSet that is not ours sitting on the new ReplicaSet's name makes
// the controller count a collision and pick another name.
func TestHashCollision(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("kubia", 1, "v1")
	api.SetDefaults(d)
	hash := api.ComputeHash(&d.Spec.Template, nil)
	squatter := &api.ReplicaSet{
		TypeMeta:   api.TypeMeta{APIVersion: "apps/v1", Kind: api.KindReplicaSet},
		ObjectMeta: api.ObjectMeta{Name: "kubia-" + hash, Namespace: "default", Labels: map[string]string{"app": "squatter"}},
		Spec: api.ReplicaSetSpec{
			Selector: &api.LabelSelector{MatchLabels: map[string]string{"app": "squatter"}},
			Template: api.PodTemplateSpec{ObjectMeta: api.ObjectMeta{Labels: map[string]string{"app": "squatter"}}, Spec: api.PodSpec{Containers: []api.Container{{Name: "x", Image: "x"}}}},
		},
	}
	if _, err := h.st.Create(squatter); err != nil {
		t.Fatal(err)
	}
	h.create(d)
	if _, err := h.c.Reconcile(context.Background(), h.key); err == nil {
		t.Fatal("no error on a name collision")
	}
	if cc := h.deployment().Status.CollisionCount; cc == nil || *cc != 1 {
		t.Fatalf("collisionCount %v; want 1", cc)
	}
	h.settle(nil)
	h.requireConverged()
	one := int32(1)
	rss := h.replicaSets()
	if len(rss) != 1 || rss[0].Name != "kubia-"+api.ComputeHash(&d.Spec.Template, &one) {
		t.Fatalf("after collision\n%s", h.dump())
	}
}

func TestReconcileMissingDeployment(t *testing.T) {
	h := newHarness(t)
	after, err := h.c.Reconcile(context.Background(), api.Key{Kind: api.KindDeployment, Namespace: "default", Name: "gone"})
	if after != 0 || err != nil {
		t.Fatalf("Reconcile of a missing deployment: %v, %v", after, err)
	}
}

func TestRolloutStatusMessages(t *testing.T) {
	three := int32(3)
	mk := func(gen, observed int64, st api.DeploymentStatus) *api.Deployment {
		d := newDeployment("kubia", three, "v1")
		d.Generation = gen
		st.ObservedGeneration = observed
		d.Status = st
		return d
	}
	timedOut := api.DeploymentStatus{Conditions: []api.Condition{{Type: api.DeploymentProgressing, Status: "False", Reason: api.ReasonProgressDeadlineExceeded}}}
	tests := []struct {
		d    *api.Deployment
		msg  string
		done bool
		err  string
	}{
		{mk(2, 1, api.DeploymentStatus{}), "Waiting for deployment spec update to be observed...", false, ""},
		{mk(2, 2, api.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1}), `Waiting for deployment "kubia" rollout to finish: 1 out of 3 new replicas have been updated...`, false, ""},
		{mk(2, 2, api.DeploymentStatus{Replicas: 4, UpdatedReplicas: 3}), `Waiting for deployment "kubia" rollout to finish: 1 old replicas are pending termination...`, false, ""},
		{mk(2, 2, api.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 2}), `Waiting for deployment "kubia" rollout to finish: 2 of 3 updated replicas are available...`, false, ""},
		{mk(2, 2, api.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}), `deployment "kubia" successfully rolled out`, true, ""},
		{mk(2, 2, timedOut), "", false, `deployment "kubia" exceeded its progress deadline`},
	}
	for _, tt := range tests {
		msg, done, err := RolloutStatus(tt.d)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if msg != tt.msg || done != tt.done || gotErr != tt.err {
			t.Errorf("RolloutStatus(%+v) = %q, %v, %q; want %q, %v, %q", tt.d.Status, msg, done, gotErr, tt.msg, tt.done, tt.err)
		}
	}
}
