package backend

import (
	"context"
	"fmt"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/server"
)

// warnMissingImages warns, with the answer of the request, of each image of
// objs' pod templates that the engine does not have: nothing is ever
// pulled, so the pods would wait in ErrImageNeverPull until it is built.
func (a *API) warnMissingImages(ctx context.Context, objs ...api.Object) {
	if a.pods == nil {
		return
	}
	seen := map[string]bool{}
	for _, obj := range objs {
		t := api.PodTemplateOf(obj)
		if t == nil {
			continue
		}
		for _, c := range t.Spec.Containers {
			if seen[c.Image] {
				continue
			}
			seen[c.Image] = true
			ok, err := a.pods.ImageExists(ctx, c.Image)
			if err != nil || ok {
				continue
			}
			server.Warn(ctx, fmt.Sprintf("image %q is not on the Docker engine and mini-deploy never pulls images: build it (make images, or docker build -t %s DIR) or docker pull it; until then the pods of %s/%s wait in ErrImageNeverPull",
				c.Image, c.Image, kindName(obj), obj.Meta().Name))
		}
	}
}

// kindName is what `-o name` calls obj's kind: deployment.apps.
func kindName(obj api.Object) string {
	if info, ok := api.InfoOf(obj.GetTypeMeta().Kind); ok {
		return info.Name
	}
	return obj.GetTypeMeta().Kind
}
