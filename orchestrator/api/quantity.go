package api

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Resource names a container may ask for. Others (a GPU, hugepages) have no
// meaning on one Docker engine and are refused rather than ignored.
const (
	ResourceCPU              = "cpu"
	ResourceMemory           = "memory"
	ResourceEphemeralStorage = "ephemeral-storage" // accepted, not enforced
)

// quantitySuffixes are Kubernetes' quantity suffixes, longest first so that
// "Mi" is not read as "M".
var quantitySuffixes = []struct {
	suffix string
	mult   float64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"Pi", 1 << 50}, {"Ei", 1 << 60},
	{"n", 1e-9}, {"u", 1e-6}, {"m", 1e-3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15}, {"E", 1e18},
}

// ParseQuantity reads a Kubernetes quantity ("500m", "1.5", "128Mi", "1e3")
// as a number of base units (cores, bytes).
func ParseQuantity(s string) (float64, error) {
	num, mult := s, 1.0
	for _, q := range quantitySuffixes {
		if rest, ok := strings.CutSuffix(s, q.suffix); ok && rest != "" {
			num, mult = rest, q.mult
			break
		}
	}
	// A number's own exponent ("1e3") ends in a digit, so it never matched a
	// suffix above; a bare "e" or "E" is not a number here.
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) || strings.ContainsAny(num, "xXpP_") {
		return 0, fmt.Errorf("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
	}
	return v * mult, nil
}

// MilliCPU is a cpu quantity in thousandths of a core, rounded up as
// Kubernetes does.
func MilliCPU(s string) (int64, error) {
	v, err := ParseQuantity(s)
	return int64(math.Ceil(v*1000 - 1e-9)), err
}

// Bytes is a memory quantity in bytes, rounded up.
func Bytes(s string) (int64, error) {
	v, err := ParseQuantity(s)
	return int64(math.Ceil(v - 1e-9)), err
}

func knownResource(name string) bool {
	switch name {
	case ResourceCPU, ResourceMemory, ResourceEphemeralStorage:
		return true
	}
	return false
}

func validateResources(errs *fieldErrors, r *Resources, path string) {
	values := map[string]map[string]float64{}
	for _, set := range []struct {
		name string
		m    map[string]Quantity
	}{{"limits", r.Limits}, {"requests", r.Requests}} {
		values[set.name] = map[string]float64{}
		for _, name := range slices.Sorted(maps.Keys(set.m)) {
			q := string(set.m[name])
			p := child(child(path, set.name), name)
			if !knownResource(name) {
				errs.notSupported(p, name, ResourceCPU, ResourceMemory, ResourceEphemeralStorage)
				continue
			}
			v, err := ParseQuantity(q)
			switch {
			case err != nil:
				errs.invalid(p, q, err.Error())
			case v < 0:
				errs.invalid(p, q, "must be greater than or equal to 0")
			default:
				values[set.name][name] = v
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(values["requests"])) {
		req := values["requests"][name]
		if limit, ok := values["limits"][name]; ok && req > limit {
			errs.invalid(child(child(path, "requests"), name), string(r.Requests[name]), "must be less than or equal to "+name+" limit of "+string(r.Limits[name]))
		}
	}
}
