package api

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"strconv"
)

// hashAlphabet has no vowels, and none of the digits 0, 1 and 3 that read as
// vowels, so a hash never spells a word: Kubernetes' SafeEncodeString rule.
const hashAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// ComputeHash names a pod template, for the pod-template-hash label and the
// ReplicaSet name `<deployment>-<hash>`. It is FNV-32a over the template's
// JSON, which is deterministic (struct fields in order, map keys sorted) and
// unchanged by fields added later with omitempty, so a template keeps its
// hash across mini-deploy versions and a restarted daemon finds its
// ReplicaSets again. collisionCount, when set, is mixed in so that a
// Deployment whose hash collides with a foreign ReplicaSet can move on to a
// new name. Hash the Deployment's template, before pod-template-hash is added.
func ComputeHash(template *PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	data, err := json.Marshal(template)
	if err != nil {
		// Every field of PodTemplateSpec marshals; this cannot happen.
		panic("pod template hash: " + err.Error())
	}
	h.Write(data)
	if collisionCount != nil {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(*collisionCount))
		h.Write(b[:])
	}
	digits := strconv.FormatUint(uint64(h.Sum32()), 10)
	out := make([]byte, len(digits))
	for i := range len(digits) {
		out[i] = hashAlphabet[int(digits[i])%len(hashAlphabet)]
	}
	return string(out)
}
