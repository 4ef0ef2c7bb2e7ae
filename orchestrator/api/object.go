package api

import (
	"encoding/json"
	"fmt"
)

// New returns an empty object of kind, with apiVersion and kind set, for
// decoding into.
func New(kind string) (Object, error) {
	var obj Object
	switch kind {
	case KindReplicationController:
		obj = &ReplicationController{TypeMeta: TypeMeta{APIVersion: "v1", Kind: kind}}
	case KindReplicaSet:
		obj = &ReplicaSet{TypeMeta: TypeMeta{APIVersion: "apps/v1", Kind: kind}}
	case KindDeployment:
		obj = &Deployment{TypeMeta: TypeMeta{APIVersion: "apps/v1", Kind: kind}}
	case KindService:
		obj = &Service{TypeMeta: TypeMeta{APIVersion: "v1", Kind: kind}}
	case KindEvent:
		obj = &Event{TypeMeta: TypeMeta{APIVersion: "v1", Kind: kind}}
	case KindPod:
		obj = &Pod{TypeMeta: TypeMeta{APIVersion: "v1", Kind: kind}}
	case KindEndpoints:
		obj = &Endpoints{TypeMeta: TypeMeta{APIVersion: "v1", Kind: kind}}
	case KindPodRecord:
		obj = &PodRecord{TypeMeta: TypeMeta{APIVersion: "mini-deploy.io/v1", Kind: kind}}
	case KindRollingUpdate:
		obj = &RollingUpdate{TypeMeta: TypeMeta{APIVersion: "mini-deploy.io/v1", Kind: kind}}
	default:
		return nil, fmt.Errorf("no kind %q is registered", kind)
	}
	return obj, nil
}

// Decode reads JSON of a known kind into a typed object.
func Decode(kind string, data []byte) (Object, error) {
	obj, err := New(kind)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, obj); err != nil {
		return nil, fmt.Errorf("decode %s: %w", kind, err)
	}
	return obj, nil
}

// deepCopy copies through JSON: every stored kind round-trips exactly, and
// objects are small, so simplicity wins over generated copy code.
func deepCopy[T any](in *T) *T {
	b, err := json.Marshal(in)
	if err != nil {
		panic(fmt.Sprintf("deep copy: %v", err))
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("deep copy: %v", err))
	}
	return out
}

// DeepCopy returns an independent copy.
func (o *ReplicationController) DeepCopy() Object { return deepCopy(o) }

// DeepCopy returns an independent copy.
func (o *ReplicaSet) DeepCopy() Object { return deepCopy(o) }

// DeepCopy returns an independent copy.
func (o *Deployment) DeepCopy() Object { return deepCopy(o) }

// DeepCopy returns an independent copy.
func (o *Service) DeepCopy() Object { return deepCopy(o) }

// DeepCopy returns an independent copy.
func (o *Event) DeepCopy() Object { return deepCopy(o) }

// DeepCopy returns an independent copy.
func (o *RollingUpdate) DeepCopy() Object { return deepCopy(o) }

// DeepCopy returns an independent copy.
func (o *Pod) DeepCopy() Object { return deepCopy(o) }

// DeepCopy returns an independent copy.
func (o *PodRecord) DeepCopy() Object { return deepCopy(o) }

// DeepCopy returns an independent copy.
func (o *Endpoints) DeepCopy() Object { return deepCopy(o) }
