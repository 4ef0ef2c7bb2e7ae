package api

import (
	"slices"
	"testing"
)

// One ServiceURLs for the CLI, the printer and the test kit: ports in order,
// and a proxy bound to every address reached on 127.0.0.1.
func TestServiceURLs(t *testing.T) {
	svc := &Service{Spec: ServiceSpec{Ports: []ServicePort{
		{Name: "b", Port: 8080, NodePort: 30002},
		{Name: "none", Port: 9090},
		{Name: "a", Port: 80, NodePort: 30001},
	}}}
	for _, tc := range []struct {
		address string
		want    []string
	}{
		{"", []string{"http://127.0.0.1:30001", "http://127.0.0.1:30002"}},
		{"0.0.0.0", []string{"http://127.0.0.1:30001", "http://127.0.0.1:30002"}},
		{"::", []string{"http://127.0.0.1:30001", "http://127.0.0.1:30002"}},
		{"192.168.1.5", []string{"http://192.168.1.5:30001", "http://192.168.1.5:30002"}},
		{"::1", []string{"http://[::1]:30001", "http://[::1]:30002"}},
	} {
		if got := ServiceURLs(svc, tc.address); !slices.Equal(got, tc.want) {
			t.Errorf("ServiceURLs(%q) = %q, want %q", tc.address, got, tc.want)
		}
	}
}

func TestCopyIsIndependent(t *testing.T) {
	in := &PodTemplateSpec{ObjectMeta: ObjectMeta{Labels: map[string]string{"app": "kubia"}}}
	out := Copy(in)
	out.Labels["app"] = "other"
	if in.Labels["app"] != "kubia" {
		t.Error("Copy shares a map with its input")
	}
}

func TestResolvePort(t *testing.T) {
	ports := []ContainerPort{{Name: "http", ContainerPort: 8080}}
	for _, tc := range []struct {
		target IntOrString
		want   int
	}{
		{IntOrString{IntVal: 9000}, 9000},
		{IntOrString{}, 80}, // the Service's port
		{IntOrString{IsString: true, StrVal: "http"}, 8080},
		{IntOrString{IsString: true, StrVal: "grpc"}, 0},
	} {
		if got := ResolvePort(ports, tc.target, 80); got != tc.want {
			t.Errorf("ResolvePort(%+v) = %d, want %d", tc.target, got, tc.want)
		}
	}
}
