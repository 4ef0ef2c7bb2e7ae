package api

import (
	"encoding/json"
	"fmt"
)

// New returns an empty object of kind, with apiVersion and kind set, for
// decoding into.
func New(kind string) (Object, error) {
	k, ok := InfoOf(kind)
	if !ok {
		return nil, fmt.Errorf("no kind %q is registered", kind)
	}
	return k.New(), nil
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

// DeepCopy returns an independent copy.
func (o *ReplicationController) DeepCopy() Object { return Copy(o) }

// DeepCopy returns an independent copy.
func (o *ReplicaSet) DeepCopy() Object { return Copy(o) }

// DeepCopy returns an independent copy.
func (o *Deployment) DeepCopy() Object { return Copy(o) }

// DeepCopy returns an independent copy.
func (o *Service) DeepCopy() Object { return Copy(o) }

// DeepCopy returns an independent copy.
func (o *Event) DeepCopy() Object { return Copy(o) }

// DeepCopy returns an independent copy.
func (o *RollingUpdate) DeepCopy() Object { return Copy(o) }

// DeepCopy returns an independent copy.
func (o *Pod) DeepCopy() Object { return Copy(o) }

// DeepCopy returns an independent copy.
func (o *PodRecord) DeepCopy() Object { return Copy(o) }

// DeepCopy returns an independent copy.
func (o *Endpoints) DeepCopy() Object { return Copy(o) }
