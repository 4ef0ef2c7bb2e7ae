package api

import (
	"encoding/json"
	"math"
	"testing"
)

// FuzzDecodeManifests: any bytes, YAML or JSON, decode or fail with an error,
// never a panic, a stack overflow or an unbounded allocation; what decodes
// can be defaulted, validated and encoded.
func FuzzDecodeManifests(f *testing.F) {
	for _, s := range []string{
		rcBase, deployBase, svcBase,
		`{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"},"spec":{"ports":[{"port":80}]}}`,
		"apiVersion: v1\nkind: List\nitems: []\n",
		"apiVersion: v1\nkind: Service\nmetadata: &m {name: x, <<: *m}\n",
		"a: &a [*a]\n",
		"---\n---\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 99999999999}\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: s, annotations: {a: !!binary aGk=}}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := DecodeManifests("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, obj := range objs {
			SetDefaults(obj)
			_ = Validate(obj)
			if _, err := json.Marshal(obj); err != nil {
				t.Fatalf("a decoded object does not encode: %v", err)
			}
		}
	})
}

// FuzzParseQuantity: a quantity that parses prints as one that parses to the
// same amount, and converts without a panic.
func FuzzParseQuantity(f *testing.F) {
	for _, s := range []string{"1", "500m", "1.5Ki", "1e3", "8Ei", "10G", "1.0000000001", "-1", "1e3Mi", "0.", ".5", "+1", "1E", "9223372036854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuantity(s)
		if err != nil {
			return
		}
		MilliCPU(s)
		Bytes(s)
		// Kubernetes prints an amount beyond 2^63 units wrongly ("7e29"
		// prints as "700"): the manifest keeps what the user wrote, and
		// conversions saturate, so only amounts it can print must round-trip.
		if q.CmpInt64(math.MaxInt64) > 0 || q.CmpInt64(math.MinInt64) < 0 {
			return
		}
		again, err := ParseQuantity(q.String())
		if err != nil || again.Cmp(q) != 0 {
			t.Fatalf("%q parsed as %s, which reparses as %s (%v)", s, q.String(), again.String(), err)
		}
	})
}
