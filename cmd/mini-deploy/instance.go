package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/mini-deploy/mini-deploy/orchestrator"
	"github.com/mini-deploy/mini-deploy/orchestrator/api"
	"github.com/mini-deploy/mini-deploy/orchestrator/store"
	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// A state directory's instance is the label on every container and network
// its daemon makes, and the only ones it lists, adopts or removes. Two
// users share one Docker engine, and often the same path relative to their
// homes, so the name is a hash of the owner's uid and the directory's path:
// a daemon of another user, or of another directory, has another name and
// never sees these containers.
//
// The name is kept in <home>/instance, chosen once. Versions before named
// the instance after the path alone, and ~/.mini-deploy "default" for every
// user: a state directory such a version used keeps its old name if the
// containers of that name on the engine are its own (their owner's UID is
// in its store), so an upgrade neither orphans nor restarts its pods; any
// other directory takes the new name. Two users who both ran "default" may
// both keep it: such a daemon sees the engine through ownContainers, which
// hides every "default" container not made for an owner of its own store.

// instanceName is the file in the state directory that keeps its instance.
const instanceName = "instance"

var (
	newInstance    = regexp.MustCompile(`^u[0-9]+-[0-9a-f]{10}$`)
	legacyInstance = regexp.MustCompile(`^home-[0-9a-f]{8}$`)
)

// instanceOf is the name a new state directory home of the current user
// gets, and its network.
func instanceOf(home string) (instance, network string) {
	return instanceFor(os.Getuid(), home)
}

// instanceFor names the instance of state directory home of user uid.
func instanceFor(uid int, home string) (instance, network string) {
	sum := sha256.Sum256([]byte(strconv.Itoa(uid) + "\x00" + home))
	instance = "u" + strconv.Itoa(uid) + "-" + hex.EncodeToString(sum[:5])
	return instance, networkOf(instance)
}

// networkOf is the Docker network of an instance.
func networkOf(instance string) string {
	if instance == orchestrator.DefaultInstance {
		return orchestrator.DefaultNetwork
	}
	return orchestrator.DefaultNetwork + "-" + strings.TrimPrefix(instance, "home-")
}

// legacyInstanceOf is the name versions before gave the instance of home.
func legacyInstanceOf(home string) string {
	if userHome, err := os.UserHomeDir(); err == nil && home == filepath.Join(userHome, ".mini-deploy") {
		return orchestrator.DefaultInstance
	}
	sum := sha256.Sum256([]byte(home))
	return "home-" + hex.EncodeToString(sum[:4])
}

// readInstance returns the instance kept in home, or "" if none is.
func readInstance(home string) (string, error) {
	path := filepath.Join(home, instanceName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the instance name: %w", err)
	}
	name := strings.TrimSpace(string(b))
	if name != orchestrator.DefaultInstance && !newInstance.MatchString(name) && !legacyInstance.MatchString(name) {
		return "", fmt.Errorf("%s holds %q, not an instance name mini-deploy made: remove the file, and the daemon names the instance anew", path, name)
	}
	return name, nil
}

// instanceLister is what resolveInstance asks of the engine.
type instanceLister interface {
	List(ctx context.Context, match map[string]string) ([]rt.Container, error)
}

// resolveInstance returns the instance and network of the state directory
// home, and keeps the name there. hadState says whether the store existed
// before this daemon opened it: only then may the directory have run under
// an old name.
func resolveInstance(ctx context.Context, home string, hadState bool, st *store.Store, engine instanceLister) (instance, network string, err error) {
	name, err := readInstance(home)
	if err != nil || name != "" {
		return name, networkOf(name), err
	}
	name, _ = instanceOf(home)
	if hadState {
		legacy := legacyInstanceOf(home)
		mine, err := madeBy(ctx, legacy, st, engine)
		if err != nil {
			return "", "", err
		}
		if mine {
			name = legacy
		}
	}
	if err := writeFileNoFollow(filepath.Join(home, instanceName), []byte(name+"\n")); err != nil {
		return "", "", fmt.Errorf("keep the instance name: %w", err)
	}
	return name, networkOf(name), nil
}

// ownContainers is the engine as a daemon that kept the shared old name
// "default" sees it: the containers of that name whose owner's UID was
// never in its store are another directory's (another user's, whose daemon
// an older version still runs, or who upgraded too), and are never listed
// nor inspected, so never adopted nor removed. The UIDs seen are kept for
// the daemon's life, so the pods of an owner just deleted stay visible
// until they are stopped; a pod a new owner adopted after its own was
// deleted with --cascade=orphan is no longer this directory's after a
// restart, and is left running.
type ownContainers struct {
	rt.Runtime
	st *store.Store

	mu   sync.Mutex
	seen map[string]bool
}

func newOwnContainers(r rt.Runtime, st *store.Store) *ownContainers {
	return &ownContainers{Runtime: r, st: st, seen: map[string]bool{}}
}

// refresh adds the UIDs the store holds now to those seen.
func (r *ownContainers) refresh() error {
	uids, err := storeUIDs(r.st)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	maps.Copy(r.seen, uids)
	return nil
}

// ours reports whether c was made for an owner this store had.
func (r *ownContainers) ours(c rt.Container) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[c.Labels[orchestrator.LabelOwnerUID]]
}

func (r *ownContainers) List(ctx context.Context, match map[string]string) ([]rt.Container, error) {
	ctrs, err := r.Runtime.List(ctx, match)
	if err != nil {
		return nil, err
	}
	if err := r.refresh(); err != nil {
		return nil, err
	}
	var out []rt.Container
	for _, c := range ctrs {
		if r.ours(c) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (r *ownContainers) Inspect(ctx context.Context, id string) (rt.Container, error) {
	c, err := r.Runtime.Inspect(ctx, id)
	if err != nil || c.Labels[orchestrator.LabelInstance] != orchestrator.DefaultInstance {
		return c, err
	}
	if err := r.refresh(); err != nil {
		return rt.Container{}, err
	}
	if !r.ours(c) {
		return rt.Container{}, fmt.Errorf("container %s is another state directory's: %w", id, rt.ErrNotFound)
	}
	return c, nil
}

// storeUIDs is the set of the UIDs of the pods' possible owners in st.
func storeUIDs(st *store.Store) (map[string]bool, error) {
	uids := map[string]bool{}
	for _, kind := range []string{api.KindReplicationController, api.KindReplicaSet} {
		objs, err := st.List(kind, "")
		if err != nil {
			return nil, fmt.Errorf("read the store to tell this directory's containers from others': %w", err)
		}
		for _, obj := range objs {
			if uid := obj.Meta().UID; uid != "" {
				uids[uid] = true
			}
		}
	}
	return uids, nil
}

// madeBy reports whether the containers of instance on the engine are
// those of the store st: one of them has an owner whose UID the store
// holds. The store's UIDs are random, so another directory's containers
// never match.
func madeBy(ctx context.Context, instance string, st *store.Store, engine instanceLister) (bool, error) {
	ctrs, err := engine.List(ctx, map[string]string{orchestrator.LabelInstance: instance})
	if err != nil {
		return false, fmt.Errorf("list the containers of instance %q: %w", instance, err)
	}
	if len(ctrs) == 0 {
		return false, nil
	}
	uids, err := storeUIDs(st)
	if err != nil {
		return false, err
	}
	for _, c := range ctrs {
		if uids[c.Labels[orchestrator.LabelOwnerUID]] {
			return true, nil
		}
	}
	return false, nil
}
