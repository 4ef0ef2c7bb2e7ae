package deployment

import (
	"strings"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

func planText(steps []PlanStep) string {
	var b strings.Builder
	for _, s := range steps {
		b.WriteString(s.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestPlan(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("kubia", 3, "luksa/kubia:v1")
	d.Spec.Strategy = rolling(api.FromInt(1), api.FromInt(0))
	h.create(d)
	h.settle(nil)
	before := h.st.ResourceVersion()
	cur := h.deployment()
	old := h.replicaSets()[0].Name

	next := *api.Copy(&cur.Spec.Template)
	next.Spec.Containers[0].Image = "luksa/kubia:v2"
	steps, err := Plan(cur, h.replicaSets(), &next, nil)
	if err != nil {
		t.Fatal(err)
	}
	newName := "kubia-" + api.ComputeHash(&next, nil)
	want := strings.NewReplacer("OLD", old, "NEW", newName).Replace(`1. scale up NEW to 1 (old 3, new 1, available 3, total 4)
2. scale down OLD to 2 (old 2, new 1, available 3, total 3)
3. scale up NEW to 2 (old 2, new 2, available 3, total 4)
4. scale down OLD to 1 (old 1, new 2, available 3, total 3)
5. scale up NEW to 3 (old 1, new 3, available 3, total 4)
6. scale down OLD to 0 (old 0, new 3, available 3, total 3)
`)
	if got := planText(steps); got != want {
		t.Fatalf("plan:\n%s\nwant:\n%s", got, want)
	}
	if h.st.ResourceVersion() != before {
		t.Fatal("Plan wrote to the store")
	}

	// The real rollout takes the same steps.
	h.rec.take()
	h.update(setImage("luksa/kubia:v2"))
	h.settle(nil)
	var actions []string
	for _, s := range steps {
		actions = append(actions, s.Action)
	}
	var events []string
	for _, m := range messages(h.rec.take()) {
		m = strings.TrimPrefix(m, "Scaled ")
		m = strings.Replace(m, " replica set ", " ", 1)
		if i := strings.Index(m, " from "); i > 0 {
			m = m[:i]
		}
		events = append(events, "scale "+m)
	}
	if strings.Join(actions, "\n") != strings.Join(events, "\n") {
		t.Fatalf("plan %q\nrollout %q", actions, events)
	}
}

func TestPlanDefaultStrategyAndScale(t *testing.T) {
	h := newHarness(t)
	h.create(newDeployment("kubia", 4, "v1"))
	h.settle(nil)
	cur := h.deployment()
	old := h.replicaSets()[0].Name

	five := int32(5)
	steps, err := Plan(cur, h.replicaSets(), nil, &five)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := planText(steps), "1. scale up "+old+" to 5 (old 0, new 5, available 4, total 5)\n"; got != want {
		t.Fatalf("scale plan:\n%s\nwant:\n%s", got, want)
	}

	steps, err = Plan(cur, h.replicaSets(), &cur.Spec.Template, nil)
	if err != nil || len(steps) != 0 {
		t.Fatalf("plan without a change: %v, %v", steps, err)
	}

	// 25%/25% of 4: one over, one under, so two pods move per step.
	next := *api.Copy(&cur.Spec.Template)
	next.Spec.Containers[0].Image = "v2"
	steps, err = Plan(cur, h.replicaSets(), &next, nil)
	if err != nil {
		t.Fatal(err)
	}
	newName := "kubia-" + api.ComputeHash(&next, nil)
	want := strings.NewReplacer("OLD", old, "NEW", newName).Replace(`1. scale up NEW to 1 (old 4, new 1, available 4, total 5)
2. scale down OLD to 3 (old 3, new 1, available 3, total 4)
3. scale up NEW to 2 (old 3, new 2, available 4, total 5)
4. scale down OLD to 1 (old 1, new 2, available 3, total 3)
5. scale up NEW to 4 (old 1, new 4, available 3, total 5)
6. scale down OLD to 0 (old 0, new 4, available 4, total 4)
`)
	if got := planText(steps); got != want {
		t.Fatalf("plan:\n%s\nwant:\n%s", got, want)
	}
}

func TestPlanRecreate(t *testing.T) {
	h := newHarness(t)
	d := newDeployment("kubia", 3, "v1")
	d.Spec.Strategy = api.DeploymentStrategy{Type: api.RecreateDeploymentStrategyType}
	h.create(d)
	h.settle(nil)
	cur := h.deployment()
	old := h.replicaSets()[0].Name
	next := *api.Copy(&cur.Spec.Template)
	next.Spec.Containers[0].Image = "v2"
	steps, err := Plan(cur, h.replicaSets(), &next, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer("OLD", old, "NEW", "kubia-"+api.ComputeHash(&next, nil)).Replace(`1. scale down OLD to 0 (old 0, new 0, available 0, total 0)
2. scale up NEW to 3 (old 0, new 3, available 0, total 3)
`)
	if got := planText(steps); got != want {
		t.Fatalf("plan:\n%s\nwant:\n%s", got, want)
	}
}
