// Package store keeps mini-deploy's desired state: the objects a user
// applied, in one bbolt file in the state directory.
//
// It behaves like the slice of etcd and the Kubernetes API server that
// controllers rely on. Every object lives under its kind, namespace and
// name. Every write takes the next value of one global counter as the
// object's resourceVersion, and a write that names a resourceVersion that is
// no longer current fails with ErrConflict, so two writers that read the same
// version cannot both win. The store also stamps uid and creationTimestamp on
// create and bumps generation when, and only when, the spec changes, which is
// what lets a controller report observedGeneration.
//
// Several writes can be grouped with Txn: they commit together in one bbolt
// transaction, fsynced, or not at all, so one apply of many documents is all
// or nothing. After a commit, and only then, its changes go to every
// watcher in commit order. Each watcher has its own unbounded queue: a slow
// controller never blocks a writer and never misses an event.
//
// Only one process may own a state directory. bbolt's file lock enforces
// that; Open gives up after Options.LockTimeout and names the pid of the
// owner, which it reads from a small owner file the lock holder writes.
//
// Objects go in and come out as copies: nothing a caller holds is ever
// shared with the store or with another caller.
//
// Where a change goes: the store keeps every kind the api registry marks
// Stored, one bucket each; a new kind needs nothing here.
package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// File names inside the state directory.
const (
	DBFile    = "state.db"
	OwnerFile = "state.owner" // the pid of the process holding the lock
)

// DefaultLockTimeout is how long Open waits for another owner to let go of
// the state directory: long enough to ride over a daemon that is just
// exiting, short enough that a second daemon reports the first at once.
const DefaultLockTimeout = time.Second

// Options tune Open. The zero value is ready to use.
type Options struct {
	// LockTimeout bounds the wait for the directory lock; 0 means
	// DefaultLockTimeout.
	LockTimeout time.Duration
}

// storedKinds are the kinds the store keeps, each in its own bucket made at
// Open. Pods and Endpoints are views of the engine's state and never stored.
var storedKinds = func() []string {
	var out []string
	for _, k := range api.Kinds(api.Stored) {
		out = append(out, k.Kind)
	}
	return out
}()

var (
	objectsBucket = []byte("objects") // one nested bucket per kind
	metaBucket    = []byte("meta")
	revisionKey   = []byte("revision")
)

// Kinds returns the kinds the store keeps.
func Kinds() []string { return slices.Clone(storedKinds) }

func checkKind(kind string) error {
	if !slices.Contains(storedKinds, kind) {
		return fmt.Errorf("kind %q is not kept in the store", kind)
	}
	return nil
}

// Store is the desired-state store. Its methods are safe for concurrent use.
type Store struct {
	dir string
	db  *bolt.DB

	// writeMu orders commits and their publication: bbolt already runs one
	// writer at a time, but without this lock two commits could reach the
	// watchers in the opposite order.
	writeMu sync.Mutex
	closed  atomic.Bool
	rev     atomic.Uint64

	watchMu  sync.Mutex
	watchers map[*watcher]struct{}
}

// Open opens or creates <dir>/state.db and takes the directory for this
// process. If another process, or another Store in this one, holds it, Open
// fails with ErrLocked after opts.LockTimeout.
func Open(dir string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, DBFile), 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, locked(dir, readOwner(dir))
	}
	if isCorruption(err) {
		return nil, corrupt(filepath.Join(dir, DBFile), err)
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{dir: dir, db: db, watchers: map[*watcher]struct{}{}}
	if err := s.init(); err != nil {
		db.Close()
		if isCorruption(err) {
			return nil, corrupt(filepath.Join(dir, DBFile), err)
		}
		return nil, err
	}
	// Written only while the lock is held, so whoever fails to get the lock
	// reads the pid of the process that has it.
	if err := writeOwner(filepath.Join(dir, OwnerFile)); err != nil {
		db.Close()
		return nil, fmt.Errorf("write lock owner: %w", err)
	}
	return s, nil
}

// isCorruption tells a damaged database file from other failures to open
// it (permissions, a full disk).
func isCorruption(err error) bool {
	return errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrChecksum) ||
		errors.Is(err, bolterrors.ErrVersionMismatch) || errors.Is(err, errDamagedPage)
}

// errDamagedPage is a page bbolt could not read: it panics on those.
var errDamagedPage = errors.New("damaged page")

func (s *Store) init() (err error) {
	// bbolt trusts the pages behind valid meta pages and panics on a
	// damaged one; a damaged file must be an error the user can act on.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errDamagedPage, r)
		}
	}()
	return s.db.Update(func(btx *bolt.Tx) error {
		meta, err := btx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return fmt.Errorf("create buckets: %w", err)
		}
		if v := meta.Get(revisionKey); len(v) == 8 {
			s.rev.Store(binary.BigEndian.Uint64(v))
		}
		objects, err := btx.CreateBucketIfNotExists(objectsBucket)
		if err != nil {
			return fmt.Errorf("create buckets: %w", err)
		}
		for _, kind := range storedKinds {
			if _, err := objects.CreateBucketIfNotExists([]byte(kind)); err != nil {
				return fmt.Errorf("create buckets: %w", err)
			}
		}
		return nil
	})
}

// writeOwner writes this process's pid to path without following a
// symbolic link put in its place, which could make the store overwrite any
// file its user may write. O_NOFOLLOW, where there is one, closes the gap
// between the look and the open.
func writeOwner(path string) error {
	refuse := fmt.Errorf("%s is a symbolic link, which the store does not follow: remove it (\"rm %s\")", path, path)
	if isSymlink(path) {
		return refuse
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|noFollow, 0o600)
	if err != nil {
		if isSymlink(path) {
			return refuse
		}
		return err
	}
	_, err = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func isSymlink(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode()&os.ModeSymlink != 0
}

func readOwner(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, OwnerFile))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// Close ends every watch, waits for running transactions and releases the
// directory. Later calls return ErrClosed.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Swap(true) {
		return ErrClosed
	}
	s.watchMu.Lock()
	for w := range s.watchers {
		w.finish()
	}
	s.watchers = nil
	s.watchMu.Unlock()
	// Removed while the lock is still held: once it is released the next
	// owner may already have written its own pid there.
	if pid := readOwner(s.dir); pid == os.Getpid() {
		os.Remove(filepath.Join(s.dir, OwnerFile))
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Dir returns the state directory the store owns.
func (s *Store) Dir() string { return s.dir }

// Revision is the store revision of obj's last write, from its
// resourceVersion; 0 for an object never stored.
func Revision(obj api.Object) uint64 {
	n, _ := strconv.ParseUint(obj.Meta().ResourceVersion, 10, 64)
	return n
}

// ResourceVersion returns the revision of the last committed write.
func (s *Store) ResourceVersion() uint64 { return s.rev.Load() }

// Txn runs fn in one read-write transaction. If fn returns an error or
// panics nothing it did is stored and no watcher hears of it; otherwise all
// of it is committed and fsynced before Txn returns and then published.
// fn must use tx, not s: the store's own writes would wait for fn forever.
func (s *Store) Txn(fn func(tx *Tx) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	var tx *Tx
	err := s.db.Update(func(btx *bolt.Tx) error {
		tx = &Tx{btx: btx, rev: s.rev.Load()}
		defer func() { tx.btx = nil }()
		if err := fn(tx); err != nil {
			return err
		}
		if tx.rev == s.rev.Load() {
			return nil
		}
		return tx.saveRevision()
	})
	if err != nil {
		return err
	}
	s.rev.Store(tx.rev)
	s.publish(tx.events)
	return nil
}

// view runs fn in a read-only transaction, concurrently with other readers
// and with the one writer.
func (s *Store) view(fn func(tx *Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	err := s.db.View(func(btx *bolt.Tx) error {
		tx := &Tx{btx: btx}
		defer func() { tx.btx = nil }()
		return fn(tx)
	})
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// Get returns a copy of the object at key.
func (s *Store) Get(key api.Key) (api.Object, error) {
	var out api.Object
	err := s.view(func(tx *Tx) (err error) {
		out, err = tx.Get(key)
		return err
	})
	return out, err
}

// List returns copies of the objects of kind in namespace, or in every
// namespace when namespace is "", sorted by namespace then name.
func (s *Store) List(kind, namespace string) ([]api.Object, error) {
	var out []api.Object
	err := s.view(func(tx *Tx) (err error) {
		out, err = tx.List(kind, namespace)
		return err
	})
	return out, err
}

// Create stores a new object; see Tx.Create.
func (s *Store) Create(obj api.Object) (api.Object, error) {
	return s.write(func(tx *Tx) (api.Object, error) { return tx.Create(obj) })
}

// Update replaces an object; see Tx.Update.
func (s *Store) Update(obj api.Object) (api.Object, error) {
	return s.write(func(tx *Tx) (api.Object, error) { return tx.Update(obj) })
}

// UpdateStatus replaces an object's status; see Tx.UpdateStatus.
func (s *Store) UpdateStatus(obj api.Object) (api.Object, error) {
	return s.write(func(tx *Tx) (api.Object, error) { return tx.UpdateStatus(obj) })
}

// Delete removes an object; see Tx.Delete.
func (s *Store) Delete(key api.Key, resourceVersion string) (api.Object, error) {
	return s.write(func(tx *Tx) (api.Object, error) { return tx.Delete(key, resourceVersion) })
}

// Prune deletes, in one transaction, every object of kind for which keep
// returns false, and returns how many it deleted. keep sees copies.
func (s *Store) Prune(kind string, keep func(api.Object) bool) (int, error) {
	var n int
	err := s.Txn(func(tx *Tx) error {
		objs, err := tx.List(kind, "")
		if err != nil {
			return err
		}
		for _, obj := range objs {
			if keep(obj) {
				continue
			}
			if _, err := tx.Delete(api.KeyOf(obj), ""); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (s *Store) write(fn func(tx *Tx) (api.Object, error)) (api.Object, error) {
	var out api.Object
	err := s.Txn(func(tx *Tx) (err error) {
		out, err = fn(tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Watch returns every change committed after the call, in commit order. The
// channel closes when ctx ends or the store closes; in the latter case the
// changes already queued are delivered first.
//
// The caller must keep reading: changes queue for it without bound. A watch
// for a client, who may stop reading, is WatchLimited.
func (s *Store) Watch(ctx context.Context) <-chan Event {
	return s.watch(ctx, 0)
}

// WatchLimited is Watch for a reader that may fall behind: once more than
// limit changes wait for it, its channel closes (after no further event),
// and it must list again to catch up.
func (s *Store) WatchLimited(ctx context.Context, limit int) <-chan Event {
	return s.watch(ctx, max(limit, 1))
}

func (s *Store) watch(ctx context.Context, limit int) <-chan Event {
	out := make(chan Event)
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if s.watchers == nil {
		close(out)
		return out
	}
	w := newWatcher(limit)
	s.watchers[w] = struct{}{}
	go func() {
		w.run(ctx, out)
		s.watchMu.Lock()
		delete(s.watchers, w)
		s.watchMu.Unlock()
	}()
	return out
}

func (s *Store) publish(events []Event) {
	if len(events) == 0 {
		return
	}
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	for w := range s.watchers {
		w.push(events)
	}
}
