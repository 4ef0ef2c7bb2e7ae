package api

import (
	"encoding/json"
	"fmt"
	"time"
)

// DefaultNamespace is where an object without metadata.namespace lives.
const DefaultNamespace = "default"

// Kinds mini-deploy stores.
const (
	KindReplicationController = "ReplicationController"
	KindReplicaSet            = "ReplicaSet"
	KindDeployment            = "Deployment"
	KindService               = "Service"
	KindEvent                 = "Event"
	KindRollingUpdate         = "RollingUpdate" // the legacy rolling-update, recorded server-side
	KindPodRecord             = "PodRecord"     // what the control plane remembers of a pod across its own restarts
	KindPod                   = "Pod"           // a view of one container, never stored
	KindEndpoints             = "Endpoints"     // a view of a Service's pods, never stored
)

// TypeMeta is apiVersion and kind, as in every Kubernetes object.
type TypeMeta struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
}

// Time is a timestamp that prints like Kubernetes' (RFC 3339, seconds).
type Time struct{ time.Time }

// Now returns the current time truncated to the second, as Kubernetes stores it.
func Now() Time { return Time{time.Now().UTC().Truncate(time.Second)} }

// MarshalJSON writes RFC 3339 or null.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format(time.RFC3339))
}

// UnmarshalJSON reads RFC 3339 or null.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	p, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("time %q: %w", s, err)
	}
	t.Time = p
	return nil
}

// ObjectMeta is the metadata every stored object has. The store sets UID,
// ResourceVersion, Generation and CreationTimestamp; a client sets the rest.
type ObjectMeta struct {
	Name              string            `json:"name,omitempty"`
	Namespace         string            `json:"namespace,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	UID               string            `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	Generation        int64             `json:"generation,omitempty"`
	CreationTimestamp Time              `json:"creationTimestamp,omitempty"`
	DeletionTimestamp *Time             `json:"deletionTimestamp,omitempty"`
	OwnerReferences   []OwnerReference  `json:"ownerReferences,omitempty"`

	// source is where the decoder read the object from (SourceOf); it is
	// never encoded, so it stays on the side that read the file.
	source *Source
}

// OwnerReference points from a ReplicaSet to the Deployment that owns it.
type OwnerReference struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
	Controller *bool  `json:"controller,omitempty"`
}

// Object is implemented by every stored kind. Meta returns a pointer into the
// object so the store can stamp it; DeepCopy returns an independent copy,
// because an object read from the store is never mutated in place.
type Object interface {
	GetTypeMeta() *TypeMeta
	Meta() *ObjectMeta
	DeepCopy() Object
}

// Key names an object in the store.
type Key struct {
	Kind      string
	Namespace string
	Name      string
}

// String prints a key as kind/namespace/name.
func (k Key) String() string { return k.Kind + "/" + k.Namespace + "/" + k.Name }

// KeyOf returns the store key of obj.
func KeyOf(obj Object) Key {
	m := obj.Meta()
	ns := m.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	return Key{Kind: obj.GetTypeMeta().Kind, Namespace: ns, Name: m.Name}
}

// GetTypeMeta lets every kind that embeds TypeMeta satisfy Object.
func (t *TypeMeta) GetTypeMeta() *TypeMeta { return t }

// Meta lets every kind that embeds ObjectMeta satisfy Object.
func (m *ObjectMeta) Meta() *ObjectMeta { return m }
