package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Tx is one transaction of Store.Txn. Reads see the transaction's own
// earlier writes. A Tx is valid only inside the function it was passed to.
type Tx struct {
	btx    *bolt.Tx
	rev    uint64  // the last revision this transaction handed out
	events []Event // published by Store.Txn once the commit is durable
}

// Get returns a copy of the object at key; namespace "" means "default".
func (tx *Tx) Get(key api.Key) (api.Object, error) {
	key, err := normalize(key)
	if err != nil {
		return nil, err
	}
	obj, _, err := tx.get(tx.bucket(key.Kind), key)
	return obj, err
}

// List returns copies of the objects of kind in namespace, or in every
// namespace when namespace is "", sorted by namespace then name.
func (tx *Tx) List(kind, namespace string) ([]api.Object, error) {
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	out := []api.Object{}
	b := tx.bucket(kind)
	var prefix []byte
	if namespace != "" {
		prefix = []byte(namespace + keySep)
	}
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		obj, err := api.Decode(kind, v)
		if err != nil {
			return nil, fmt.Errorf("stored %s %q: %w", api.Resource(kind), k, err)
		}
		out = append(out, obj)
	}
	return out, nil
}

// Create stores a copy of obj as a new object and returns what was stored:
// namespace defaulted, a new uid, creationTimestamp now, generation 1 and the
// next resourceVersion. A uid or resourceVersion in obj is ignored.
func (tx *Tx) Create(obj api.Object) (api.Object, error) {
	in, key, err := prepare(obj)
	if err != nil {
		return nil, err
	}
	b := tx.bucket(key.Kind)
	if b.Get(dbKey(key)) != nil {
		return nil, alreadyExists(key)
	}
	m := in.Meta()
	m.UID = newUID()
	m.CreationTimestamp = api.Now()
	m.Generation = 1
	return tx.put(b, key, in, nil)
}

// Update replaces the stored object by a copy of obj: spec, status and the
// client's metadata (labels, annotations, ownerReferences). uid and
// creationTimestamp are kept; generation goes up by one if the spec changed.
// A resourceVersion or uid in obj is a precondition: if it is not the stored
// one the update fails with ErrConflict. An update that changes nothing writes
// nothing, so it neither takes a revision nor wakes a watcher.
func (tx *Tx) Update(obj api.Object) (api.Object, error) {
	in, key, err := prepare(obj)
	if err != nil {
		return nil, err
	}
	b := tx.bucket(key.Kind)
	old, raw, err := tx.get(b, key)
	if err != nil {
		return nil, err
	}
	if err := preconditions(key, in.Meta(), old.Meta()); err != nil {
		return nil, err
	}
	m, om := in.Meta(), old.Meta()
	m.UID = om.UID
	m.CreationTimestamp = om.CreationTimestamp
	m.Generation = om.Generation
	data, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode %s %q: %w", api.Resource(key.Kind), key.Name, err)
	}
	changed, err := specChanged(raw, data)
	if err != nil {
		return nil, fmt.Errorf("compare %s %q: %w", api.Resource(key.Kind), key.Name, err)
	}
	if changed {
		m.Generation++
	}
	return tx.replace(b, key, in, old, raw)
}

// UpdateStatus replaces only the status of the stored object with obj's,
// under the same preconditions as Update. Spec, metadata and generation stay
// as stored, so a controller cannot undo a user's concurrent spec change.
func (tx *Tx) UpdateStatus(obj api.Object) (api.Object, error) {
	in, key, err := prepare(obj)
	if err != nil {
		return nil, err
	}
	b := tx.bucket(key.Kind)
	old, raw, err := tx.get(b, key)
	if err != nil {
		return nil, err
	}
	if err := preconditions(key, in.Meta(), old.Meta()); err != nil {
		return nil, err
	}
	data, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode %s %q: %w", api.Resource(key.Kind), key.Name, err)
	}
	var stored, given map[string]json.RawMessage
	if err := json.Unmarshal(raw, &stored); err != nil {
		return nil, fmt.Errorf("stored %s %q: %w", api.Resource(key.Kind), key.Name, err)
	}
	if err := json.Unmarshal(data, &given); err != nil {
		return nil, fmt.Errorf("encode %s %q: %w", api.Resource(key.Kind), key.Name, err)
	}
	if status, ok := given["status"]; ok {
		stored["status"] = status
	} else {
		delete(stored, "status")
	}
	merged, err := json.Marshal(stored)
	if err != nil {
		return nil, fmt.Errorf("encode %s %q: %w", api.Resource(key.Kind), key.Name, err)
	}
	next, err := api.Decode(key.Kind, merged)
	if err != nil {
		return nil, err
	}
	return tx.replace(b, key, next, old, raw)
}

// Delete removes the object at key and returns it, carrying the revision of
// the delete as its resourceVersion. A non-empty resourceVersion is a
// precondition, as in Update.
func (tx *Tx) Delete(key api.Key, resourceVersion string) (api.Object, error) {
	key, err := normalize(key)
	if err != nil {
		return nil, err
	}
	b := tx.bucket(key.Kind)
	old, raw, err := tx.get(b, key)
	if err != nil {
		return nil, err
	}
	if resourceVersion != "" && resourceVersion != old.Meta().ResourceVersion {
		return nil, conflict(key, modifiedMessage)
	}
	gone, out, err := decodeTwice(key.Kind, raw)
	if err != nil {
		return nil, err
	}
	if err := b.Delete(dbKey(key)); err != nil {
		return nil, fmt.Errorf("delete %s %q: %w", api.Resource(key.Kind), key.Name, err)
	}
	tx.rev++
	rv := strconv.FormatUint(tx.rev, 10)
	gone.Meta().ResourceVersion = rv
	out.Meta().ResourceVersion = rv
	tx.events = append(tx.events, Event{Type: Deleted, Object: gone, Old: old})
	return out, nil
}

// replace writes next over old unless they are the same object, byte for
// byte, apart from the resourceVersion a write would give it.
func (tx *Tx) replace(b *bolt.Bucket, key api.Key, next, old api.Object, raw []byte) (api.Object, error) {
	next.Meta().ResourceVersion = old.Meta().ResourceVersion
	data, err := json.Marshal(next)
	if err != nil {
		return nil, fmt.Errorf("encode %s %q: %w", api.Resource(key.Kind), key.Name, err)
	}
	if bytes.Equal(data, raw) {
		return old, nil
	}
	return tx.put(b, key, next, old)
}

// put stores obj, which the store owns, at the next revision and queues its
// event. The caller gets the stored bytes decoded, exactly what Get returns
// later; watchers get obj, as each delivery is a fresh decode anyway.
func (tx *Tx) put(b *bolt.Bucket, key api.Key, obj, old api.Object) (api.Object, error) {
	rev := tx.rev + 1
	obj.Meta().ResourceVersion = strconv.FormatUint(rev, 10)
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %s %q: %w", api.Resource(key.Kind), key.Name, err)
	}
	out, err := api.Decode(key.Kind, data)
	if err != nil {
		return nil, err
	}
	if err := b.Put(dbKey(key), data); err != nil {
		return nil, fmt.Errorf("store %s %q: %w", api.Resource(key.Kind), key.Name, err)
	}
	tx.rev = rev
	ev := Event{Type: Modified, Object: obj, Old: old}
	if old == nil {
		ev.Type = Added
	}
	tx.events = append(tx.events, ev)
	return out, nil
}

func (tx *Tx) saveRevision() error {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], tx.rev)
	if err := tx.btx.Bucket(metaBucket).Put(revisionKey, v[:]); err != nil {
		return fmt.Errorf("store revision: %w", err)
	}
	return nil
}

func (tx *Tx) bucket(kind string) *bolt.Bucket {
	return tx.btx.Bucket(objectsBucket).Bucket([]byte(kind))
}

// get returns the object at key and a copy of its stored bytes: bbolt's own
// may move once the transaction writes.
func (tx *Tx) get(b *bolt.Bucket, key api.Key) (api.Object, []byte, error) {
	raw := bytes.Clone(b.Get(dbKey(key)))
	if raw == nil {
		return nil, nil, notFound(key)
	}
	obj, err := api.Decode(key.Kind, raw)
	if err != nil {
		return nil, nil, fmt.Errorf("stored %s %q: %w", api.Resource(key.Kind), key.Name, err)
	}
	return obj, raw, nil
}

// keySep separates namespace and name in a bucket key. No DNS name contains
// it and it sorts before every character that does, so keys sort by
// namespace and then name.
const keySep = "\x00"

func dbKey(k api.Key) []byte { return []byte(k.Namespace + keySep + k.Name) }

func normalize(k api.Key) (api.Key, error) {
	if err := checkKind(k.Kind); err != nil {
		return k, err
	}
	if k.Namespace == "" {
		k.Namespace = api.DefaultNamespace
	}
	if k.Name == "" {
		return k, fmt.Errorf("%s: resource name may not be empty", api.Resource(k.Kind))
	}
	if strings.Contains(k.Namespace+k.Name, keySep) {
		return k, fmt.Errorf("%s %q: name or namespace contains a NUL byte", api.Resource(k.Kind), k.Name)
	}
	return k, nil
}

// prepare copies obj on the way in, so the store never holds what a caller
// may still change, and fills in what a write needs.
func prepare(obj api.Object) (api.Object, api.Key, error) {
	if obj == nil {
		return nil, api.Key{}, fmt.Errorf("no object given")
	}
	kind := obj.GetTypeMeta().Kind
	if err := checkKind(kind); err != nil {
		return nil, api.Key{}, err
	}
	proto, err := api.New(kind)
	if err != nil {
		return nil, api.Key{}, err
	}
	in := obj.DeepCopy()
	key, err := normalize(api.KeyOf(in))
	if err != nil {
		return nil, key, err
	}
	in.Meta().Namespace = key.Namespace
	if tm := in.GetTypeMeta(); tm.APIVersion == "" {
		tm.APIVersion = proto.GetTypeMeta().APIVersion
	}
	return in, key, nil
}

func preconditions(key api.Key, given, stored *api.ObjectMeta) error {
	if given.UID != "" && given.UID != stored.UID {
		return conflict(key, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", given.UID, stored.UID))
	}
	if given.ResourceVersion != "" && given.ResourceVersion != stored.ResourceVersion {
		return conflict(key, modifiedMessage)
	}
	return nil
}

// specChanged compares the "spec" members of two encoded objects. Kinds
// without a spec never change it, so their generation stays 1.
func specChanged(oldData, newData []byte) (bool, error) {
	a, err := member(oldData, "spec")
	if err != nil {
		return false, err
	}
	b, err := member(newData, "spec")
	if err != nil {
		return false, err
	}
	return !bytes.Equal(a, b), nil
}

func member(data []byte, name string) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, err
	}
	raw, ok := fields[name]
	if !ok {
		return nil, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeTwice decodes stored bytes into two independent objects: one for the
// watchers, one for the caller.
func decodeTwice(kind string, data []byte) (api.Object, api.Object, error) {
	a, err := api.Decode(kind, data)
	if err != nil {
		return nil, nil, err
	}
	b, err := api.Decode(kind, data)
	if err != nil {
		return nil, nil, err
	}
	return a, b, nil
}

// newUID returns a random version 4 UUID, as Kubernetes gives its objects.
func newUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails: crypto/rand panics rather than return an error
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
