package node

import (
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// engineResources translates a container's resources as the kubelet does for
// cgroups: a cpu limit is a CPU quota, a cpu request a share weight (1024 a
// core, at least 2), a memory limit a hard limit and a memory request a soft
// one. Validation has checked the quantities.
func engineResources(r *api.Resources) rt.Resources {
	var out rt.Resources
	if r == nil {
		return out
	}
	if q, ok := r.Limits[api.ResourceCPU]; ok {
		m, _ := api.MilliCPU(string(q))
		out.NanoCPUs = m * 1_000_000
	}
	if q, ok := r.Requests[api.ResourceCPU]; ok {
		m, _ := api.MilliCPU(string(q))
		out.CPUShares = max(2, m*1024/1000)
	}
	if q, ok := r.Limits[api.ResourceMemory]; ok {
		out.MemoryLimit, _ = api.Bytes(string(q))
	}
	if q, ok := r.Requests[api.ResourceMemory]; ok {
		out.MemoryReservation, _ = api.Bytes(string(q))
	}
	return out
}
