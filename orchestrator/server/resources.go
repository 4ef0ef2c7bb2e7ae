package server

import "github.com/mini-deploy/mini-deploy/orchestrator/api"

// resources maps the plural names of the URL paths to kinds, in Kubernetes'
// spelling, so that a path reads like the one kubectl would call.
var resources = map[string]string{
	"replicationcontrollers": api.KindReplicationController,
	"replicasets":            api.KindReplicaSet,
	"deployments":            api.KindDeployment,
	"services":               api.KindService,
	"pods":                   api.KindPod,
	"endpoints":              api.KindEndpoints,
	"events":                 api.KindEvent,
	"rollingupdates":         api.KindRollingUpdate,
}

// KindFor returns the kind a plural resource name stands for.
func KindFor(resource string) (string, bool) {
	k, ok := resources[resource]
	return k, ok
}

// ResourceFor returns the plural resource name of kind, as used in paths.
func ResourceFor(kind string) string {
	for r, k := range resources {
		if k == kind {
			return r
		}
	}
	return ""
}
