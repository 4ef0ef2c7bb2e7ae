package api

import (
	"strings"
	"testing"
)

func ptr(v IntOrString) *IntOrString { return &v }

func TestScaledValue(t *testing.T) {
	tests := []struct {
		v       *IntOrString
		total   int32
		roundUp bool
		want    int32
		err     string
	}{
		{ptr(FromInt(3)), 10, false, 3, ""},
		{ptr(FromString("25%")), 3, true, 1, ""},
		{ptr(FromString("25%")), 3, false, 0, ""},
		{ptr(FromString("25%")), 4, true, 1, ""},
		{ptr(FromString("25%")), 4, false, 1, ""},
		{ptr(FromString("30%")), 10, true, 3, ""},
		{ptr(FromString("33%")), 10, true, 4, ""},
		{ptr(FromString("33%")), 10, false, 3, ""},
		{ptr(FromString("100%")), 7, false, 7, ""},
		{ptr(FromString("0%")), 7, true, 0, ""},
		{ptr(FromString("50%")), 0, true, 0, ""},
		{ptr(FromString("-50%")), 3, false, -2, ""},
		{ptr(FromString("-50%")), 3, true, -1, ""},
		{ptr(FromString("25")), 3, true, 0, "is not a percentage"},
		{ptr(FromString("x%")), 3, true, 0, "invalid value"},
		{nil, 3, true, 0, "nil value"},
	}
	for _, tt := range tests {
		got, err := ScaledValue(tt.v, tt.total, tt.roundUp)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ScaledValue(%v, %d, %v) error = %v, want %q", tt.v, tt.total, tt.roundUp, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ScaledValue(%v, %d, %v) = %d, %v; want %d", tt.v, tt.total, tt.roundUp, got, err, tt.want)
		}
	}
}

func TestResolveFenceposts(t *testing.T) {
	tests := []struct {
		surge, unavail *IntOrString
		desired        int32
		wantS, wantU   int32
	}{
		{ptr(FromString("25%")), ptr(FromString("25%")), 3, 1, 0},
		{ptr(FromString("25%")), ptr(FromString("25%")), 10, 3, 2},
		{ptr(FromInt(1)), ptr(FromInt(0)), 3, 1, 0},
		{ptr(FromInt(3)), ptr(FromInt(2)), 10, 3, 2},
		{ptr(FromString("0%")), ptr(FromString("10%")), 3, 0, 1}, // both 0: unavailable becomes 1
		{nil, nil, 5, 0, 1},
		{ptr(FromString("25%")), ptr(FromString("25%")), 0, 0, 1},
	}
	for _, tt := range tests {
		s, u, err := ResolveFenceposts(tt.surge, tt.unavail, tt.desired)
		if err != nil || s != tt.wantS || u != tt.wantU {
			t.Errorf("ResolveFenceposts(%v, %v, %d) = %d, %d, %v; want %d, %d", tt.surge, tt.unavail, tt.desired, s, u, err, tt.wantS, tt.wantU)
		}
	}
	if _, _, err := ResolveFenceposts(ptr(FromString("x")), nil, 3); err == nil {
		t.Error("bad maxSurge: no error")
	}
}
