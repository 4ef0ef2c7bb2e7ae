package node

import (
	"math"
	"runtime"

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
		// A limit of every core the machine has, or more, limits nothing;
		// the engine refuses such a quota rather than ignore it.
		if m, _ := api.MilliCPU(string(q)); m < int64(hostCPUs())*1000 {
			out.NanoCPUs = m * 1_000_000
		}
	}
	if q, ok := r.Requests[api.ResourceCPU]; ok {
		m, _ := api.MilliCPU(string(q))
		out.CPUShares = sharesOf(m)
	}
	if q, ok := r.Limits[api.ResourceMemory]; ok {
		out.MemoryLimit = memoryOf(string(q))
	}
	if q, ok := r.Requests[api.ResourceMemory]; ok {
		out.MemoryReservation = memoryOf(string(q))
	}
	return out
}

// hostCPUs is how many cores the engine's containers share; a variable so a
// test can set it.
var hostCPUs = runtime.NumCPU

// Share weights as the kubelet computes them (MilliCPUToShares): 1024 a
// core, within the kernel's bounds.
const (
	minShares = 2
	maxShares = 262144
)

func sharesOf(milli int64) int64 {
	if milli > maxShares*1000/1024 {
		return maxShares
	}
	return max(minShares, milli*1024/1000)
}

// maxMemory is the largest memory amount the kernel takes for a cgroup limit
// (a page-aligned int64); beyond it a limit means no limit.
const maxMemory = math.MaxInt64 &^ 4095

func memoryOf(q string) int64 {
	b, _ := api.Bytes(q)
	if b >= maxMemory {
		return 0
	}
	return b
}
