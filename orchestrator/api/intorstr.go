package api

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// IntOrString holds either a number or a string, like Kubernetes' type of the
// same name: a port number or a port name, a count or a percentage.
type IntOrString struct {
	IsString bool
	IntVal   int32
	StrVal   string
}

// FromInt returns an IntOrString holding n.
func FromInt(n int) IntOrString { return IntOrString{IntVal: int32(n)} }

// FromString returns an IntOrString holding s.
func FromString(s string) IntOrString { return IntOrString{IsString: true, StrVal: s} }

// IsZero reports whether nothing was set.
func (v IntOrString) IsZero() bool { return !v.IsString && v.IntVal == 0 }

// String prints the number or the string.
func (v IntOrString) String() string {
	if v.IsString {
		return v.StrVal
	}
	return strconv.Itoa(int(v.IntVal))
}

// MarshalJSON writes a JSON number or string.
func (v IntOrString) MarshalJSON() ([]byte, error) {
	if v.IsString {
		return json.Marshal(v.StrVal)
	}
	return json.Marshal(v.IntVal)
}

// UnmarshalJSON reads a JSON number or string.
func (v *IntOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		v.IsString = true
		v.IntVal = 0
		return json.Unmarshal(b, &v.StrVal)
	}
	var n int32
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want an integer or a string, got %s", b)
	}
	*v = IntOrString{IntVal: n}
	return nil
}
