package deployment

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// TestRandomizedRollouts throws rollouts, rollbacks, scales, pauses,
// resumes and dying pods at the controller in a seeded random order, checks
// the rolling-update bounds after every reconcile and every ReplicaSet
// controller step, and requires that it converges once the world calms down.
func TestRandomizedRollouts(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5}
	iterations := 200
	if testing.Short() {
		seeds, iterations = seeds[:2], 50
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			runRandomized(t, seed, iterations)
		})
	}
}

func randomBound(r *rand.Rand) api.IntOrString {
	if r.IntN(2) == 0 {
		return api.FromInt(r.IntN(4))
	}
	return api.FromString([]string{"0%", "10%", "25%", "50%", "100%"}[r.IntN(5)])
}

func runRandomized(t *testing.T, seed uint64, iterations int) {
	r := rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15))
	h := newHarness(t)
	d := newDeployment("app", int32(1+r.IntN(6)), "img:1")
	d.Spec.Strategy = rolling(randomBound(r), randomBound(r))
	h.create(d)
	h.settle(nil)
	h.requireConverged()

	images := []string{"img:1", "img:2", "img:3", "missing"}
	var log []string
	// guarded: no scale and no dead pods since availability last reached
	// replicas - maxUnavailable, so it must not drop below again.
	guarded := false
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d: %s\nafter: %s\n%s", seed, fmt.Sprintf(format, args...), strings.Join(log, ", "), h.dump())
	}
	check := func() {
		t.Helper()
		d := h.deployment()
		rss := h.replicaSets()
		size, available := sumSpec(rss), sumAvailable(rss)
		seen := map[string]string{}
		for _, rs := range rss {
			if rsReplicas(rs) < 0 {
				fail("replica set %s has %d replicas", rs.Name, rsReplicas(rs))
			}
			k := templateKey(&rs.Spec.Template)
			if other, ok := seen[k]; ok {
				fail("replica sets %s and %s have the same template", other, rs.Name)
			}
			seen[k] = rs.Name
		}
		if ceiling := replicasOf(d) + maxSurge(d); size > ceiling {
			fail("%d replicas asked for; at most %d allowed", size, ceiling)
		}
		floor := replicasOf(d) - maxUnavailable(d)
		if guarded && available < floor {
			fail("%d available; at least %d required", available, floor)
		}
		if available >= floor {
			guarded = true
		}
	}

	for range iterations {
		switch op := r.IntN(10); {
		case op < 3:
			img := images[r.IntN(len(images))]
			log = append(log, "image "+img)
			h.update(setImage(img))
		case op == 3:
			to := int64(0)
			if r.IntN(2) == 0 {
				to = int64(1 + r.IntN(6))
			}
			log = append(log, fmt.Sprintf("undo %d", to))
			if _, err := Rollback(h.st, "", "app", to); err != nil && !expectedRollbackError(err) {
				fail("rollback to %d: %v", to, err)
			}
		case op == 4:
			n := int32(r.IntN(9))
			log = append(log, fmt.Sprintf("scale %d", n))
			h.update(func(d *api.Deployment) { d.Spec.Replicas = &n })
			guarded = false
		case op == 5:
			log = append(log, "pause")
			h.update(func(d *api.Deployment) { d.Spec.Paused = true })
		case op == 6:
			log = append(log, "resume")
			h.update(func(d *api.Deployment) { d.Spec.Paused = false })
		case op == 7:
			var running []*api.ReplicaSet
			for _, rs := range h.replicaSets() {
				if rs.Status.Replicas > 0 {
					running = append(running, rs)
				}
			}
			if len(running) > 0 {
				rs := running[r.IntN(len(running))]
				n := int32(1 + r.IntN(int(rs.Status.Replicas)))
				log = append(log, fmt.Sprintf("kill %d of %s", n, image(&rs.Spec.Template)))
				h.deletePods(rs, n)
				guarded = false
			}
		default:
			log = append(log, "wait")
		}
		// A new replicas count is only honoured by the next reconcile.
		if !strings.HasPrefix(log[len(log)-1], "scale") {
			check()
		}
		for range 1 + r.IntN(3) {
			h.step(check)
		}
		if len(log) > 30 {
			log = log[len(log)-30:]
		}
	}

	// Calm: resumed, a template that can run, no more dying pods.
	log = append(log, "calm")
	h.update(func(d *api.Deployment) {
		d.Spec.Paused = false
		if image(&d.Spec.Template) == "missing" {
			setImage("img:final")(d)
		}
	})
	h.settle(check)
	h.requireConverged()
}

// expectedRollbackError: undo can rightly refuse in a random history.
func expectedRollbackError(err error) bool {
	if errors.Is(err, ErrRollbackSkipped) {
		return true
	}
	msg := err.Error()
	return strings.HasPrefix(msg, "unable to find specified revision") ||
		strings.HasPrefix(msg, "no rollout history found") ||
		strings.HasPrefix(msg, "you cannot rollback a paused deployment")
}
