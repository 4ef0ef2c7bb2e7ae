package api

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Copy returns an independent copy of v, through JSON: every kind and every
// part of one round-trips exactly, and objects are small, so simplicity wins
// over generated copy code. A value that does not round-trip is a programming
// error, not a condition to handle, so Copy panics on it.
func Copy[T any](v *T) *T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("deep copy %T: %v", v, err))
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("deep copy %T: %v", v, err))
	}
	return out
}

// Replicas reads a replicas field, which Kubernetes defaults to 1 when unset.
func Replicas(n *int32) int32 {
	if n == nil {
		return DefaultReplicas
	}
	return *n
}

// ServiceURLs returns where each port of svc with a node port answers on
// this machine, in port order. A proxy bound to every address (address ""
// or a wildcard) is reached on 127.0.0.1.
func ServiceURLs(svc *Service, address string) []string {
	host := address
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ports := slices.Clone(svc.Spec.Ports)
	slices.SortStableFunc(ports, func(a, b ServicePort) int { return int(a.Port) - int(b.Port) })
	var urls []string
	for _, p := range ports {
		if p.NodePort != 0 {
			urls = append(urls, "http://"+net.JoinHostPort(host, strconv.Itoa(int(p.NodePort))))
		}
	}
	return urls
}

// Truncate shortens text quoted in a message (a probe's output, a response
// body) to n bytes, without its surrounding white space.
func Truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// OwnedBy reports whether obj has an owner reference to uid.
func OwnedBy(obj Object, uid string) bool {
	for _, ref := range obj.Meta().OwnerReferences {
		if ref.UID == uid {
			return true
		}
	}
	return false
}

// NotFound is the error for a missing object of kind, worded as the
// Kubernetes API server words it: pods "x" not found.
func NotFound(kind, name string) error {
	return fmt.Errorf("%s %q %w", Resource(kind), name, ErrNotFound)
}

// ResolvePort turns a Service's targetPort into a container port, as
// Kubernetes does: a number is itself (0 means the Service's port,
// fallback); a name is the port of that name among ports, or 0 when the
// container has none.
func ResolvePort(ports []ContainerPort, target IntOrString, fallback int32) int {
	if !target.IsString {
		if target.IntVal > 0 {
			return int(target.IntVal)
		}
		return int(fallback)
	}
	for _, cp := range ports {
		if cp.Name == target.StrVal {
			return int(cp.ContainerPort)
		}
	}
	if n, err := strconv.Atoi(target.StrVal); err == nil {
		return n
	}
	return 0
}

// PodTemplateOf is the pod template of a workload (Deployment, ReplicaSet,
// ReplicationController), nil for other kinds and for a controller without
// one.
func PodTemplateOf(obj Object) *PodTemplateSpec {
	switch v := obj.(type) {
	case *Deployment:
		return &v.Spec.Template
	case *ReplicaSet:
		return &v.Spec.Template
	case *ReplicationController:
		return v.Spec.Template
	}
	return nil
}
