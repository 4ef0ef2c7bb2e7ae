package api

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ScaledValue resolves maxSurge or maxUnavailable against a replica count,
// as Kubernetes' GetScaledValueFromIntOrPercent does: an integer is itself,
// "N%" is N percent of total, rounded up or down. The rounding is the whole
// point: surge rounds up and unavailable rounds down, so that 25% of 3
// replicas still lets a rollout surge by one while never taking one away.
func ScaledValue(v *IntOrString, total int32, roundUp bool) (int32, error) {
	if v == nil {
		return 0, errors.New("nil value for IntOrString")
	}
	if !v.IsString {
		return v.IntVal, nil
	}
	s, ok := strings.CutSuffix(v.StrVal, "%")
	if !ok {
		return 0, fmt.Errorf("invalid value for IntOrString: %q is not a percentage", v.StrVal)
	}
	pct, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid value for IntOrString: invalid value %q: %w", v.StrVal, err)
	}
	n := pct * int64(total)
	q := n / 100
	// Integer division truncates toward zero; step to the floor or ceiling.
	if r := n % 100; r != 0 {
		switch {
		case roundUp && r > 0:
			q++
		case !roundUp && r < 0:
			q--
		}
	}
	return int32(q), nil
}

// ResolveFenceposts turns a Deployment's maxSurge and maxUnavailable into
// replica counts for desired replicas; a nil value counts as 0. If both come
// out 0 the rollout could never move, so unavailable becomes 1, Kubernetes'
// rule: with 25%/25% and one replica, the single pod may be replaced.
func ResolveFenceposts(maxSurge, maxUnavailable *IntOrString, desired int32) (surge, unavailable int32, err error) {
	zero := FromInt(0)
	if maxSurge == nil {
		maxSurge = &zero
	}
	if maxUnavailable == nil {
		maxUnavailable = &zero
	}
	surge, err = ScaledValue(maxSurge, desired, true)
	if err != nil {
		return 0, 0, err
	}
	unavailable, err = ScaledValue(maxUnavailable, desired, false)
	if err != nil {
		return 0, 0, err
	}
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable, nil
}
