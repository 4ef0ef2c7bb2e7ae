package api

import "testing"

func TestKindRegistryIsConsistent(t *testing.T) {
	for _, k := range Kinds(nil) {
		obj := k.New()
		if tm := obj.GetTypeMeta(); tm.Kind != k.Kind || tm.APIVersion != k.APIVersion {
			t.Errorf("%s: New() made %s %s", k.Kind, tm.APIVersion, tm.Kind)
		}
		if k.Served {
			if got, ok := KindForResource(k.Plural); !ok || got != k.Kind {
				t.Errorf("KindForResource(%q) = %q, %v, want %s", k.Plural, got, ok, k.Kind)
			}
		}
		if k.Manifest && !k.Stored {
			t.Errorf("%s: an apply can only store a stored kind", k.Kind)
		}
	}
	if _, ok := KindForResource("podrecords"); ok {
		t.Error("the internal PodRecord kind must not be served")
	}
	if got := Resource(KindDeployment); got != "deployments.apps" {
		t.Errorf("Resource(Deployment) = %q", got)
	}
}
