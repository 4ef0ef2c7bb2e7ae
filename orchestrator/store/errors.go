package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Sentinel errors. The store returns them wrapped in messages worded as the
// Kubernetes API server words them, so the API server can map them to HTTP
// statuses with errors.Is and the CLI can print them unchanged.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	ErrConflict      = errors.New("conflict")
	ErrLocked        = errors.New("state directory is locked")
	ErrClosed        = errors.New("store is closed")
)

// storeError carries the user-facing text and the sentinel it stands for.
type storeError struct {
	sentinel error
	msg      string
}

func (e *storeError) Error() string { return e.msg }
func (e *storeError) Unwrap() error { return e.sentinel }

// Resource returns the name Kubernetes' API server gives a kind in its
// messages: the lower-case plural, qualified by the API group outside the
// core group: Service -> services, Deployment -> deployments.apps.
func Resource(kind string) string {
	r := strings.ToLower(kind)
	if !strings.HasSuffix(r, "s") {
		r += "s"
	}
	switch kind {
	case api.KindDeployment, api.KindReplicaSet:
		r += ".apps"
	}
	return r
}

func notFound(k api.Key) error {
	return &storeError{ErrNotFound, fmt.Sprintf("%s %q not found", Resource(k.Kind), k.Name)}
}

func alreadyExists(k api.Key) error {
	return &storeError{ErrAlreadyExists, fmt.Sprintf("%s %q already exists", Resource(k.Kind), k.Name)}
}

func conflict(k api.Key, why string) error {
	return &storeError{ErrConflict, fmt.Sprintf("Operation cannot be fulfilled on %s %q: %s", Resource(k.Kind), k.Name, why)}
}

const modifiedMessage = "the object has been modified; please apply your changes to the latest version and try again"

func locked(dir string, pid int) error {
	owner := "pid unknown"
	if pid > 0 {
		owner = fmt.Sprintf("pid %d", pid)
	}
	return &storeError{ErrLocked, fmt.Sprintf("state directory %s is in use by another mini-deploy daemon (%s)", dir, owner)}
}
