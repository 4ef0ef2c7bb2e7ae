package docker

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/docker/docker/api/types/container"

	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// Stats asks the engine for one sample, which it takes over about a second
// so that the CPU use is a rate: the CPU time the container used between its
// two readings, over the machine's, times the CPUs online.
func (e *Engine) Stats(ctx context.Context, id string) (rt.Stats, error) {
	resp, err := e.cli.ContainerStats(ctx, id, false)
	if err != nil {
		return rt.Stats{}, mapErr(err)
	}
	defer resp.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return rt.Stats{}, fmt.Errorf("stats of container %s: %w", id, err)
	}
	var out rt.Stats
	cpu := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	system := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	online := float64(s.CPUStats.OnlineCPUs)
	if online == 0 {
		online = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	if cpu > 0 && system > 0 {
		out.CPUMilli = int64(cpu / system * online * 1000)
	}
	inactive := s.MemoryStats.Stats["inactive_file"] // cgroup v2
	if v, ok := s.MemoryStats.Stats["total_inactive_file"]; ok {
		inactive = v // cgroup v1
	}
	if s.MemoryStats.Usage > inactive {
		out.MemoryBytes = int64(s.MemoryStats.Usage - inactive)
	}
	return out, nil
}
