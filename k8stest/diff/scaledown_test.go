package diff

import (
	"slices"
	"testing"
	"time"

	"github.com/mini-deploy/mini-deploy/k8stest"
)

// TestScaleDownChoosesSamePods scales a ReplicaSet and a
// ReplicationController down on both sides and requires the same pods to
// go: not ready ones first, then the most recently ready. Pods are made
// ready seconds apart, because Kubernetes compares ready times on a
// logarithmic scale (the power of two of the nanoseconds since), at
// one-second resolution, and picks at random (by UID) among pods ready
// within the same span. The gaps, 18 s and then 9 s, keep the three ready
// pods in three spans however long the first scale-down and its settling
// take, up to 17 s; with gaps of 4 and 1.5 s, 8 s of it on a loaded CI
// machine put the two oldest in one span, and Kubernetes kept either.
func TestScaleDownChoosesSamePods(t *testing.T) {
	cp := k8stest.Shared(t)
	manifests := map[string]string{
		"ReplicaSet": `apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 5
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: luksa/kubia:v1}]
`,
		"ReplicationController": `apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  replicas: 5
  selector: {app: web}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: luksa/kubia:v1}]
`,
	}
	for _, kind := range []string{"ReplicaSet", "ReplicationController"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			type side interface {
				cluster
				survivors(*testing.T) []int
			}
			sides := []side{newMini(t), newKube(t, cp)}
			for _, c := range sides {
				c.create(t, manifests[kind])
				c.settle(t)
			}
			// Three pods made ready 18 and 9 seconds apart; two stay not ready.
			for i, gap := range []time.Duration{18 * time.Second, 9 * time.Second, 0} {
				for _, c := range sides {
					if c.ready(t, "", 1) != 1 {
						t.Fatalf("no pod to make ready (round %d)", i+1)
					}
				}
				time.Sleep(gap)
			}
			var got [][]int
			for _, target := range []int32{3, 1} {
				for _, c := range sides {
					c.scale(t, target)
				}
				for _, c := range sides {
					c.settle(t)
				}
				mini, kube := sides[0].survivors(t), sides[1].survivors(t)
				got = append(got, kube)
				if !slices.Equal(mini, kube) {
					t.Errorf("scale to %d: mini-deploy kept the pods made ready %v (0: never ready), kube-controller-manager %v",
						target, mini, kube)
				}
			}
			t.Logf("pods left by ready order (0: never ready): %v", got)
		})
	}
}
