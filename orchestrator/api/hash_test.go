package api

import (
	"regexp"
	"testing"
)

func TestComputeHash(t *testing.T) {
	tmpl := func(image string) *PodTemplateSpec {
		return &PodTemplateSpec{
			ObjectMeta: ObjectMeta{Labels: map[string]string{"app": "kubia", "tier": "web"}},
			Spec:       PodSpec{Containers: []Container{{Name: "nodejs", Image: image}}},
		}
	}
	v1 := ComputeHash(tmpl("luksa/kubia:v1"), nil)
	if !regexp.MustCompile(`^[bcdfghjklmnpqrstvwxz2456789]{1,10}$`).MatchString(v1) {
		t.Errorf("hash %q is not in the safe alphabet", v1)
	}
	for range 20 {
		// Map iteration order must not leak into the hash.
		if h := ComputeHash(tmpl("luksa/kubia:v1"), nil); h != v1 {
			t.Fatalf("unstable: %s then %s", v1, h)
		}
	}
	if ComputeHash(tmpl("luksa/kubia:v2"), nil) == v1 {
		t.Error("a different image hashes the same")
	}
	zero, one := int32(0), int32(1)
	if a, b := ComputeHash(tmpl("luksa/kubia:v1"), &zero), ComputeHash(tmpl("luksa/kubia:v1"), &one); a == b || a == v1 {
		t.Errorf("collision count ignored: %s %s %s", v1, a, b)
	}
	// A regression guard: changing the encoding renames every ReplicaSet of
	// every running Deployment, so it must be deliberate.
	if v1 != golden {
		t.Errorf("hash of the reference template changed: %s, was %s", v1, golden)
	}
}

const golden = "79c5489b68"
