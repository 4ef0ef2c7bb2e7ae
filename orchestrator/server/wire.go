package server

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// What travels on the wire: request and response bodies, and how an object
// is encoded with its kind and decoded again.

// ApplyRequest is the body of POST /apply.
type ApplyRequest struct {
	Objects []json.RawMessage `json:"objects"`
	Options ApplyOptions      `json:"options"`
}

// ApplyResponse is the answer of POST /apply.
type ApplyResponse struct {
	Results []ApplyResult `json:"results"`
}

// DiffResponse is the answer of POST /diff; the request is an ApplyRequest.
type DiffResponse struct {
	Results []DiffResult `json:"results"`
}

// PodMetricsList answers GET /apis/metrics.k8s.io/v1beta1/.../pods.
type PodMetricsList struct {
	Items []PodMetrics `json:"items"`
}

// PodAddrResponse answers GET .../pods/{name}/addr?port=N.
type PodAddrResponse struct {
	Address string `json:"address"`
}

// ObjectList is how a list of objects travels: each item carries its kind,
// so the client can decode it with api.Decode.
type ObjectList struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Items      []json.RawMessage `json:"items"`
}

// ScaleRequest is the body of PUT .../{name}/scale.
type ScaleRequest struct {
	Replicas int32 `json:"replicas"`
}

// ImageRequest is the body of POST .../{name}/image.
type ImageRequest struct {
	Images map[string]string `json:"images"`
}

// SelectorRequest is the body of PUT .../services/{name}/selector.
type SelectorRequest struct {
	Selector        map[string]string `json:"selector"`
	ResourceVersion string            `json:"resourceVersion,omitempty"`
}

// WireWatchEvent is a WatchEvent as it travels: the object stays raw until
// the reader knows which kind to decode it into.
type WireWatchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// encodeObject writes obj as JSON with its kind set, so that whoever reads it
// can decode it without knowing the kind beforehand.
func encodeObject(kind string, obj api.Object) (json.RawMessage, error) {
	if obj == nil {
		return nil, fmt.Errorf("backend returned no %s", kind)
	}
	if tm := obj.GetTypeMeta(); tm.Kind == "" {
		obj = obj.DeepCopy()
		proto, err := api.New(kind)
		if err == nil {
			*obj.GetTypeMeta() = *proto.GetTypeMeta()
		} else {
			obj.GetTypeMeta().Kind = kind
		}
	}
	return json.Marshal(obj)
}

// DecodeObject reads one object written by the API. The kind comes from the
// object itself, or from kind when the object leaves it out.
func DecodeObject(kind string, raw []byte) (api.Object, error) {
	var tm api.TypeMeta
	if err := json.Unmarshal(raw, &tm); err != nil {
		return nil, fmt.Errorf("decode object: %w", err)
	}
	if tm.Kind != "" {
		kind = tm.Kind
	}
	if kind == "" {
		return nil, errors.New("object has no kind")
	}
	return api.Decode(kind, raw)
}
