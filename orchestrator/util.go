package orchestrator

import (
	"encoding/json"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

func jsonCompact(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func copyPodSpec(s api.PodSpec) api.PodSpec {
	var out api.PodSpec
	b, _ := json.Marshal(s)
	_ = json.Unmarshal(b, &out)
	return out
}

func copyTemplate(t *api.PodTemplateSpec) *api.PodTemplateSpec {
	var out api.PodTemplateSpec
	b, _ := json.Marshal(t)
	_ = json.Unmarshal(b, &out)
	return &out
}
