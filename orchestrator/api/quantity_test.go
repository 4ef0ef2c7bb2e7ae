package api

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestParseQuantity(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // canonical, as Kubernetes writes it back
	}{
		{"1", "1"}, {"0.5", "500m"}, {"500m", "500m"}, {"250u", "250u"}, {"128Mi", "128Mi"}, {"1Gi", "1Gi"},
		{"1G", "1G"}, {"512M", "512M"}, {"2k", "2k"}, {"1e3", "1e3"}, {"1.5Ki", "1536"}, {"1E", "1E"}, {"0", "0"},
	} {
		got, err := ParseQuantity(tc.in)
		if err != nil || got.String() != tc.want {
			t.Errorf("ParseQuantity(%q) = %v, %v; want %v", tc.in, got.String(), err, tc.want)
		}
	}
	// 1e3Mi: an exponent and a suffix together, which Kubernetes refuses.
	// 1e8000000: Kubernetes parses it, then arithmetic on it takes minutes.
	for _, bad := range []string{"", "12x", "1MB", "0x10", "Inf", "NaN", "5e", "1_000", "--1", "1e3Mi", "1e8000000", "1E-101", "1" + strings.Repeat("0", 64)} {
		if v, err := ParseQuantity(bad); err == nil {
			t.Errorf("ParseQuantity(%q) = %v, want an error", bad, v.String())
		}
	}
}

// Quantities convert exactly, rounding up to the unit as Kubernetes does,
// and saturate instead of overflowing.
func TestQuantityConversions(t *testing.T) {
	for _, tc := range []struct {
		in         string
		milli, raw int64
	}{
		{"0.1", 100, 1},
		{"1.0000000001", 1001, 2}, // rounds up: a float would say 1000
		{"1.5Ki", 1536000, 1536},
		{"10G", 10e12, 10e9},
		{"8Ei", math.MaxInt64, math.MaxInt64},
		{"9223372036854775807", math.MaxInt64, math.MaxInt64},
	} {
		m, err := MilliCPU(tc.in)
		if err != nil || m != tc.milli {
			t.Errorf("MilliCPU(%q) = %d, %v; want %d", tc.in, m, err, tc.milli)
		}
		b, err := Bytes(tc.in)
		if err != nil || b != tc.raw {
			t.Errorf("Bytes(%q) = %d, %v; want %d", tc.in, b, err, tc.raw)
		}
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
