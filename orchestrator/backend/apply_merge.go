package backend

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Apply merges as kubectl apply does, by three sets of fields: the live
// object, the manifest it was last applied from (kept in the annotation
// api.AnnotationLastApplied) and the manifest applied now. A field the new
// manifest sets wins; a field the last manifest set and the new one drops is
// removed (and defaulted again); a field neither manifest set is kept. So
// `scale` on a Deployment whose manifest leaves replicas out, `rollout
// pause` and `rollout restart` survive a later apply of the same file, which
// reports "unchanged". Maps merge key by key; lists are replaced whole,
// where kubectl merges some of them (containers) by name.

// appliedConfig is obj as its manifest gave it, before defaults, with
// nothing the server owns: the value of the last-applied annotation.
func appliedConfig(obj api.Object) (map[string]any, error) {
	m, err := toMap(obj)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		for _, k := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "ownerReferences"} {
			delete(md, k)
		}
		if an, ok := md["annotations"].(map[string]any); ok {
			delete(an, api.AnnotationLastApplied)
			if len(an) == 0 {
				delete(md, "annotations")
			}
		}
	}
	return m, nil
}

// setLastApplied records cfg on obj.
func setLastApplied(obj api.Object, cfg map[string]any) error {
	b, err := json.Marshal(cfg) // map keys sorted: the same manifest, the same text
	if err != nil {
		return err
	}
	m := obj.Meta()
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[api.AnnotationLastApplied] = string(b)
	return nil
}

// mergeApplied returns the object an apply of cfg over live makes, not yet
// defaulted, with cfg recorded as the last applied manifest.
func mergeApplied(live api.Object, cfg map[string]any) (api.Object, error) {
	lm, err := toMap(live)
	if err != nil {
		return nil, err
	}
	delete(lm, "status")
	var last map[string]any
	if s := live.Meta().Annotations[api.AnnotationLastApplied]; s != "" {
		if err := json.Unmarshal([]byte(s), &last); err != nil {
			last = nil // unreadable: as if applied by someone else
		}
	}
	merged, err := api.New(live.GetTypeMeta().Kind)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(threeWay(lm, last, cfg))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, merged); err != nil {
		return nil, fmt.Errorf("%s %q: merge with the live object: %w", live.GetTypeMeta().Kind, live.Meta().Name, err)
	}
	return merged, setLastApplied(merged, cfg)
}

// threeWay merges applied over live, removing what last had and applied
// dropped. last may be nil: nothing is removed then.
func threeWay(live, last, applied map[string]any) map[string]any {
	out := maps.Clone(live)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range applied {
		lv, liveIsMap := live[k].(map[string]any)
		av, appliedIsMap := v.(map[string]any)
		if liveIsMap && appliedIsMap {
			prev, _ := last[k].(map[string]any)
			out[k] = threeWay(lv, prev, av)
		} else {
			out[k] = v
		}
	}
	for k := range last {
		if _, ok := applied[k]; !ok {
			delete(out, k)
		}
	}
	return out
}

func toMap(obj api.Object) (map[string]any, error) {
	g, err := api.Generic(obj)
	if err != nil {
		return nil, err
	}
	m, _ := g.(map[string]any)
	return m, nil
}
