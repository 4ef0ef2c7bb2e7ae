package api

import (
	"bytes"
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"
)

// ToJSON prints v as `kubectl get -o json` does: indented by four spaces,
// ending in a newline.
func ToJSON(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ToYAML prints v as YAML with two-space indentation. It goes through JSON,
// so field names, omitempty and custom marshalers are the JSON ones, and keys
// come out sorted as kubectl's do.
func ToYAML(v any) ([]byte, error) {
	generic, err := Generic(v)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(generic); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Generic is v as its JSON says it: maps, lists, strings, bools, and whole
// numbers as int64 (others float64), so that they stay exact where float64
// would print 1e+06 and compare equal to an integer in a jsonpath filter.
// ToYAML, kubectl-style jsonpath and the apply merge read objects this way.
func Generic(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return numbers(generic), nil
}

// numbers replaces json.Number, which yaml.v3 would quote as a string, with
// int64 or float64.
func numbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = numbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = numbers(e)
		}
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return n
		}
		if f, err := t.Float64(); err == nil {
			return f
		}
		return t.String()
	}
	return v
}

// NewList wraps objects in a `kind: List`, the shape kubectl prints for
// several objects.
func NewList(items []Object) *List {
	if items == nil {
		items = []Object{}
	}
	return &List{TypeMeta: TypeMeta{APIVersion: "v1", Kind: KindList}, Items: items}
}
