package api

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseQuantity(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{"1", 1}, {"0.5", 0.5}, {"500m", 0.5}, {"250u", 0.00025}, {"128Mi", 128 << 20}, {"1Gi", 1 << 30},
		{"1G", 1e9}, {"512M", 512e6}, {"2k", 2000}, {"1e3", 1000}, {"1.5Ki", 1536}, {"1E", 1e18}, {"0", 0},
	} {
		got, err := ParseQuantity(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseQuantity(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "m", "12x", "1MB", "0x10", "Inf", "NaN", "5e", "1_000", "--1"} {
		if v, err := ParseQuantity(bad); err == nil {
			t.Errorf("ParseQuantity(%q) = %v, want an error", bad, v)
		}
	}
	if m, _ := MilliCPU("0.1"); m != 100 {
		t.Errorf("MilliCPU(0.1) = %d, want 100", m)
	}
	if b, _ := Bytes("1.5Ki"); b != 1536 {
		t.Errorf("Bytes(1.5Ki) = %d, want 1536", b)
	}
}

func TestResourceRequestsDefaultToLimits(t *testing.T) {
	objs, err := DecodeManifests("d.yaml", []byte(deployBase+"        resources:\n          limits: {cpu: 500m, memory: 128Mi}\n          requests: {memory: 64Mi}\n"))
	if err != nil {
		t.Fatal(err)
	}
	SetDefaults(objs[0])
	r := objs[0].(*Deployment).Spec.Template.Spec.Containers[0].Resources
	if r.Requests["cpu"] != "500m" || r.Requests["memory"] != "64Mi" {
		t.Errorf("requests %v, want cpu from its limit and memory as given", r.Requests)
	}
}

// A quantity may be a plain number in YAML and JSON (cpu: 2, cpu: 0.5), as
// in Kubernetes; anything else is a decode error naming the field.
func TestQuantityDecoding(t *testing.T) {
	objs, err := DecodeManifests("d.yaml", []byte(deployBase+"        resources:\n          limits: {cpu: 2, memory: 1Gi}\n          requests: {cpu: 0.5}\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := objs[0].(*Deployment).Spec.Template.Spec.Containers[0].Resources
	if r.Limits["cpu"] != "2" || r.Requests["cpu"] != "0.5" || r.Limits["memory"] != "1Gi" {
		t.Errorf("resources %+v", r)
	}
	_, err = DecodeManifests("d.yaml", []byte(deployBase+"        resources:\n          limits: {cpu: [1]}\n"))
	if err == nil || !strings.Contains(err.Error(), "resources.limits[cpu]: expected a quantity") {
		t.Errorf("a list as a quantity: %v", err)
	}
	var q struct{ A, B Quantity }
	if err := json.Unmarshal([]byte(`{"A": 0.25, "B": "128Mi"}`), &q); err != nil || q.A != "0.25" || q.B != "128Mi" {
		t.Errorf("JSON quantities: %+v, %v", q, err)
	}
}
