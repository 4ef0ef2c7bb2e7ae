package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/mini-deploy/mini-deploy/orchestrator"
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
// other directory takes the new name.

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
	uids := map[string]bool{}
	for _, kind := range store.Kinds() {
		objs, err := st.List(kind, "")
		if err != nil {
			return false, fmt.Errorf("read the store to tell whose containers instance %q has: %w", instance, err)
		}
		for _, obj := range objs {
			if uid := obj.Meta().UID; uid != "" {
				uids[uid] = true
			}
		}
	}
	for _, c := range ctrs {
		if uids[c.Labels[orchestrator.LabelOwnerUID]] {
			return true, nil
		}
	}
	return false, nil
}
