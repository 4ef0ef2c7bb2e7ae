package node

import (
	"testing"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// What the engine is asked for never overflows: a limit beyond the machine
// is no limit, and shares stay within the kernel's bounds.
func TestEngineResourcesNeverOverflow(t *testing.T) {
	defer func(f func() int) { hostCPUs = f }(hostCPUs)
	hostCPUs = func() int { return 2 }
	for _, tc := range []struct {
		limits, requests map[string]api.Quantity
		want             rt.Resources
	}{
		{
			limits:   map[string]api.Quantity{"cpu": "500m", "memory": "128Mi"},
			requests: map[string]api.Quantity{"cpu": "250m", "memory": "64Mi"},
			want:     rt.Resources{NanoCPUs: 500e6, CPUShares: 256, MemoryLimit: 128 << 20, MemoryReservation: 64 << 20},
		},
		{
			limits:   map[string]api.Quantity{"cpu": "10G", "memory": "8Ei"},
			requests: map[string]api.Quantity{"cpu": "10G", "memory": "8Ei"},
			want:     rt.Resources{CPUShares: maxShares},
		},
		{
			limits:   map[string]api.Quantity{"cpu": "2"},
			requests: map[string]api.Quantity{"cpu": "1m"},
			want:     rt.Resources{CPUShares: minShares},
		},
		{
			limits:   map[string]api.Quantity{"cpu": "1.0000000001"},
			requests: map[string]api.Quantity{},
			want:     rt.Resources{NanoCPUs: 1001e6},
		},
	} {
		got := engineResources(&api.Resources{Limits: tc.limits, Requests: tc.requests})
		if got != tc.want {
			t.Errorf("engineResources(%v, %v) = %+v, want %+v", tc.limits, tc.requests, got, tc.want)
		}
	}
}
