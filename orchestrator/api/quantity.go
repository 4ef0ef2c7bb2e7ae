package api

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Resource names a container may ask for. Others (a GPU, hugepages) have no
// meaning on one Docker engine and are refused rather than ignored.
const (
	ResourceCPU              = "cpu"
	ResourceMemory           = "memory"
	ResourceEphemeralStorage = "ephemeral-storage" // accepted, not enforced
)

// ParseQuantity reads a Kubernetes quantity ("500m", "1.5", "128Mi", "1e3")
// exactly, with Kubernetes' own parser: the same grammar ("1e3Mi" is refused),
// the same precision (nano-units, rounded up) and the same canonical form.
//
// Two bounds come first, beyond Kubernetes: at most 64 characters, and a
// decimal exponent of at most 100 either way. Kubernetes parses "1e8000000"
// and then spends minutes and gigabytes on arithmetic with it; no resource
// amount needs either bound lifted.
func ParseQuantity(s string) (resource.Quantity, error) {
	if len(s) > maxQuantityLen {
		return resource.Quantity{}, fmt.Errorf("a quantity may have at most %d characters", maxQuantityLen)
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 && i+1 < len(s) {
		if exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+")); err == nil && (exp > maxExponent || exp < -maxExponent) {
			return resource.Quantity{}, fmt.Errorf("a quantity's exponent must be between -%d and %d", maxExponent, maxExponent)
		}
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return q, fmt.Errorf("quantities must match the regular expression '%s'", quantityPattern)
	}
	return q, nil
}

const (
	maxQuantityLen = 64
	maxExponent    = 100
)

// quantityPattern is the grammar as the Kubernetes API server quotes it.
const quantityPattern = `^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$`

// MilliCPU is a cpu quantity in thousandths of a core, rounded up as
// Kubernetes does, saturating at what an int64 holds.
func MilliCPU(s string) (int64, error) {
	q, err := ParseQuantity(s)
	if err != nil {
		return 0, err
	}
	if q.CmpInt64(math.MaxInt64/1000) > 0 {
		return math.MaxInt64, nil
	}
	return q.MilliValue(), nil
}

// Bytes is a memory quantity in bytes, rounded up, saturating at what an
// int64 holds ("8Ei" is one more than that).
func Bytes(s string) (int64, error) {
	q, err := ParseQuantity(s)
	if err != nil {
		return 0, err
	}
	if q.CmpInt64(math.MaxInt64) >= 0 {
		return math.MaxInt64, nil
	}
	return q.Value(), nil
}

func knownResource(name string) bool {
	switch name {
	case ResourceCPU, ResourceMemory, ResourceEphemeralStorage:
		return true
	}
	return false
}

func validateResources(errs *fieldErrors, r *Resources, path string) {
	values := map[string]map[string]resource.Quantity{}
	for _, set := range []struct {
		name string
		m    map[string]Quantity
	}{{"limits", r.Limits}, {"requests", r.Requests}} {
		values[set.name] = map[string]resource.Quantity{}
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
			case v.Sign() < 0:
				errs.invalid(p, q, "must be greater than or equal to 0")
			default:
				values[set.name][name] = v
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(values["requests"])) {
		req := values["requests"][name]
		if limit, ok := values["limits"][name]; ok && req.Cmp(limit) > 0 {
			errs.invalid(child(child(path, "requests"), name), string(r.Requests[name]), "must be less than or equal to "+name+" limit of "+string(r.Limits[name]))
		}
	}
}
