package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// The three ways `patch` changes a generic object (maps, lists, scalars, as
// api.Generic makes them): a JSON merge patch (RFC 7386), its strategic
// variant, which merges some lists by a key as Kubernetes does, and a JSON
// patch (RFC 6902).

// strategicKeys are the lists a strategic merge patch merges by key, by the
// name of the field that holds them, and the key. "ports" is a container's
// (by containerPort) or a Service's (by port): the key present decides.
var strategicKeys = map[string][]string{
	"containers": {"name"},
	"env":        {"name"},
	"ports":      {"containerPort", "port"},
}

// yamlOrJSON decodes a patch written in JSON or YAML into generic values.
// Numbers come out as api.Generic gives them, to compare with an object's.
func yamlOrJSON(data []byte, v *any) error {
	var y any
	if err := json.Unmarshal(data, &y); err != nil {
		if err := yaml.Unmarshal(data, &y); err != nil {
			return err
		}
	}
	g, err := api.Generic(y)
	if err != nil {
		return err
	}
	*v = g
	return nil
}

// mergePatch applies patch to doc. A null removes a key; maps merge; a list
// replaces the list, unless keys names it (strategic), when its items merge
// with the items of the same key.
func mergePatch(doc, patch any, keys map[string][]string) any {
	return mergeValue("", doc, patch, keys)
}

func mergeValue(field string, doc, patch any, keys map[string][]string) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		if pl, ok := patch.([]any); ok && keys != nil {
			if dl, ok := doc.([]any); ok {
				if merged, ok := mergeList(dl, pl, keys[field], keys); ok {
					return merged
				}
			}
		}
		return patch
	}
	dm, ok := doc.(map[string]any)
	if !ok {
		dm = map[string]any{}
	}
	out := maps.Clone(dm)
	for k, v := range pm {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = mergeValue(k, dm[k], v, keys)
	}
	return out
}

// mergeList merges patch items into doc items by the first of candidates
// that every patch item has; false when none fits.
func mergeList(doc, patch []any, candidates []string, keys map[string][]string) ([]any, bool) {
	for _, key := range candidates {
		fits := true
		for _, p := range patch {
			pm, ok := p.(map[string]any)
			if _, has := pm[key]; !ok || !has {
				fits = false
			}
		}
		if !fits || len(patch) == 0 {
			continue
		}
		out := append([]any(nil), doc...)
		for _, p := range patch {
			pm := p.(map[string]any)
			found := false
			for i, d := range out {
				if dm, ok := d.(map[string]any); ok && fmt.Sprint(dm[key]) == fmt.Sprint(pm[key]) {
					out[i] = mergeValue("", dm, pm, keys)
					found = true
					break
				}
			}
			if !found {
				out = append(out, mergeValue("", nil, pm, keys))
			}
		}
		return out, true
	}
	return nil, false
}

// jsonPatch applies an RFC 6902 patch: a list of operations.
func jsonPatch(doc, patch any) (any, error) {
	ops, ok := patch.([]any)
	if !ok {
		return nil, fmt.Errorf("a json patch is a list of operations, such as [{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":2}]")
	}
	for i, o := range ops {
		op, _ := o.(map[string]any)
		name, _ := op["op"].(string)
		path, _ := op["path"].(string)
		value, hasValue := op["value"]
		var err error
		switch name {
		case "add", "replace":
			if !hasValue {
				return nil, fmt.Errorf("json patch operation %d (%s %s): no value", i, name, path)
			}
			if name == "replace" {
				if _, err = pointerGet(doc, path); err != nil {
					break
				}
			}
			doc, err = pointerSet(doc, path, value, name == "add")
		case "remove":
			doc, _, err = pointerRemove(doc, path)
		case "move", "copy":
			from, _ := op["from"].(string)
			var v any
			if name == "move" {
				doc, v, err = pointerRemove(doc, from)
			} else {
				v, err = pointerGet(doc, from)
			}
			if err == nil {
				doc, err = pointerSet(doc, path, v, true)
			}
		case "test":
			var got any
			got, err = pointerGet(doc, path)
			if err == nil && fmt.Sprint(got) != fmt.Sprint(value) {
				err = fmt.Errorf("testing value %s failed", path)
			}
		default:
			err = fmt.Errorf("unexpected kind of operation %q", name)
		}
		if err != nil {
			return nil, fmt.Errorf("json patch operation %d (%s %s): %w", i, name, path, err)
		}
	}
	return doc, nil
}

// pointerTokens splits a JSON pointer (/spec/ports/0) into its tokens.
func pointerTokens(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("path %q does not start with /", path)
	}
	toks := strings.Split(path[1:], "/")
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks, nil
}

func pointerGet(doc any, path string) (any, error) {
	toks, err := pointerTokens(path)
	if err != nil {
		return nil, err
	}
	cur := doc
	for _, t := range toks {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, fmt.Errorf("%s: no such key %q", path, t)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("%s: no index %q", path, t)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("%s: %q is not in a map or a list", path, t)
		}
	}
	return cur, nil
}

// pointerSet sets (insert: adds, shifting a list) the value at path and
// returns the new document.
func pointerSet(doc any, path string, value any, insert bool) (any, error) {
	toks, err := pointerTokens(path)
	if err != nil {
		return nil, err
	}
	return setIn(doc, toks, value, insert, path)
}

func setIn(cur any, toks []string, value any, insert bool, path string) (any, error) {
	if len(toks) == 0 {
		return value, nil
	}
	t, rest := toks[0], toks[1:]
	switch c := cur.(type) {
	case map[string]any:
		out := maps.Clone(c)
		if len(rest) > 0 {
			child, ok := c[t]
			if !ok {
				return nil, fmt.Errorf("%s: no such key %q", path, t)
			}
			v, err := setIn(child, rest, value, insert, path)
			if err != nil {
				return nil, err
			}
			out[t] = v
			return out, nil
		}
		out[t] = value
		return out, nil
	case []any:
		i := len(c)
		if t != "-" {
			n, err := strconv.Atoi(t)
			if err != nil || n < 0 || n > len(c) || (n == len(c) && (!insert || len(rest) > 0)) {
				return nil, fmt.Errorf("%s: no index %q", path, t)
			}
			i = n
		}
		out := append([]any(nil), c...)
		if len(rest) > 0 {
			v, err := setIn(c[i], rest, value, insert, path)
			if err != nil {
				return nil, err
			}
			out[i] = v
			return out, nil
		}
		if insert {
			out = append(out[:i], append([]any{value}, out[i:]...)...)
		} else {
			out[i] = value
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: %q is not in a map or a list", path, t)
}

// pointerRemove removes the value at path and returns the new document and
// the value.
func pointerRemove(doc any, path string) (any, any, error) {
	v, err := pointerGet(doc, path)
	if err != nil {
		return nil, nil, err
	}
	toks, _ := pointerTokens(path)
	if len(toks) == 0 {
		return nil, nil, fmt.Errorf("cannot remove the whole object")
	}
	parentPath := "/" + strings.Join(escapeTokens(toks[:len(toks)-1]), "/")
	if len(toks) == 1 {
		parentPath = ""
	}
	parent, _ := pointerGet(doc, parentPath)
	last := toks[len(toks)-1]
	var next any
	switch p := parent.(type) {
	case map[string]any:
		m := maps.Clone(p)
		delete(m, last)
		next = m
	case []any:
		i, _ := strconv.Atoi(last)
		next = append(append([]any(nil), p[:i]...), p[i+1:]...)
	}
	out, err := setIn(doc, toks[:len(toks)-1], next, false, path)
	return out, v, err
}

func escapeTokens(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
	}
	return out
}
