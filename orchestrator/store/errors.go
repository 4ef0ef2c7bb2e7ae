package store

import (
	"errors"
	"fmt"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Sentinel errors. The first three are the API's, named here too so that a
// caller of the store reads them beside the store's own two.
var (
	ErrNotFound      = api.ErrNotFound
	ErrAlreadyExists = api.ErrAlreadyExists
	ErrConflict      = api.ErrConflict
	ErrLocked        = errors.New("state directory is locked")
	ErrClosed        = errors.New("store is closed")
	// ErrCorrupt is a state.db that is not a database the store can read:
	// its pages are damaged, or it is another kind of file.
	ErrCorrupt = errors.New("state.db is corrupt")
)

func corrupt(path string, err error) error {
	return &storeError{ErrCorrupt, fmt.Sprintf("%s is corrupt: %v", path, err)}
}

// storeError carries the user-facing text and the sentinel it stands for.
type storeError struct {
	sentinel error
	msg      string
}

func (e *storeError) Error() string { return e.msg }
func (e *storeError) Unwrap() error { return e.sentinel }

func notFound(k api.Key) error {
	return &storeError{ErrNotFound, fmt.Sprintf("%s %q not found", api.Resource(k.Kind), k.Name)}
}

func alreadyExists(k api.Key) error {
	return &storeError{ErrAlreadyExists, fmt.Sprintf("%s %q already exists", api.Resource(k.Kind), k.Name)}
}

func conflict(k api.Key, why string) error {
	return &storeError{ErrConflict, fmt.Sprintf("Operation cannot be fulfilled on %s %q: %s", api.Resource(k.Kind), k.Name, why)}
}

const modifiedMessage = "the object has been modified; please apply your changes to the latest version and try again"

func locked(dir string, pid int) error {
	owner := "pid unknown"
	if pid > 0 {
		owner = fmt.Sprintf("pid %d", pid)
	}
	return &storeError{ErrLocked, fmt.Sprintf("state directory %s is in use by another mini-deploy daemon (%s)", dir, owner)}
}
