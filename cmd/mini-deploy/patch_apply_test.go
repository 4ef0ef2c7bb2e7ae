package main

import (
	"encoding/json"
	"testing"
)

func TestPatches(t *testing.T) {
	const doc = `{"spec":{"replicas":3,"template":{"spec":{"containers":[
		{"name":"nodejs","image":"luksa/kubia:v1","ports":[{"containerPort":8080}]},
		{"name":"side","image":"side:1"}]}}}}`
	for _, tc := range []struct {
		name, kind, patch, want string
	}{
		{"merge sets and removes", patchMerge, `{"spec":{"replicas":2,"template":null}}`, `{"spec":{"replicas":2}}`},
		{"merge replaces a list", patchMerge, `{"spec":{"template":{"spec":{"containers":[{"name":"nodejs","image":"v2"}]}}}}`,
			`{"spec":{"replicas":3,"template":{"spec":{"containers":[{"image":"v2","name":"nodejs"}]}}}}`},
		{"strategic merges containers by name", patchStrategic, `{"spec":{"template":{"spec":{"containers":[{"name":"nodejs","image":"v2","env":[{"name":"A","value":"1"}]},{"name":"new","image":"n"}]}}}}`,
			`{"spec":{"replicas":3,"template":{"spec":{"containers":[{"env":[{"name":"A","value":"1"}],"image":"v2","name":"nodejs","ports":[{"containerPort":8080}]},{"image":"side:1","name":"side"},{"image":"n","name":"new"}]}}}}`},
		{"json replace, add, remove", patchJSON, `[{"op":"replace","path":"/spec/replicas","value":1},{"op":"add","path":"/spec/template/spec/containers/-","value":{"name":"x"}},{"op":"remove","path":"/spec/template/spec/containers/1"},{"op":"test","path":"/spec/replicas","value":1}]`,
			`{"spec":{"replicas":1,"template":{"spec":{"containers":[{"image":"luksa/kubia:v1","name":"nodejs","ports":[{"containerPort":8080}]},{"name":"x"}]}}}}`},
		{"json move and copy, ~1 escapes", patchJSON, `[{"op":"add","path":"/metadata","value":{"annotations":{}}},{"op":"add","path":"/metadata/annotations/a~1b","value":"x"},{"op":"copy","from":"/metadata/annotations/a~1b","path":"/metadata/annotations/c"},{"op":"move","from":"/spec/replicas","path":"/metadata/annotations/r"},{"op":"remove","path":"/spec/template"}]`,
			`{"metadata":{"annotations":{"a/b":"x","c":"x","r":3}},"spec":{}}`},
	} {
		var d, p any
		json.Unmarshal([]byte(doc), &d)
		if err := yamlOrJSON([]byte(tc.patch), &p); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got any
		var err error
		switch tc.kind {
		case patchJSON:
			got, err = jsonPatch(d, p)
		case patchMerge:
			got = mergePatch(d, p, nil)
		default:
			got = mergePatch(d, p, strategicKeys)
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		b, _ := json.Marshal(got)
		if string(b) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, b, tc.want)
		}
	}
	var d, p any
	json.Unmarshal([]byte(doc), &d)
	json.Unmarshal([]byte(`[{"op":"test","path":"/spec/replicas","value":5}]`), &p)
	if _, err := jsonPatch(d, p); err == nil {
		t.Error("a failed test operation applied")
	}
	json.Unmarshal([]byte(`[{"op":"replace","path":"/spec/nope","value":5}]`), &p)
	if _, err := jsonPatch(d, p); err == nil {
		t.Error("replace of a missing key applied")
	}
}
