package docker

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"

	rt "github.com/mini-deploy/mini-deploy/runtime"
)

// engineError keeps the engine's message for the user while errors.Is sees
// the runtime sentinel (and the engine's own error, for whoever needs it).
type engineError struct {
	kind error
	err  error
}

func (e *engineError) Error() string   { return e.err.Error() }
func (e *engineError) Unwrap() []error { return []error{e.kind, e.err} }

// mapErr translates an engine error into one that wraps a runtime sentinel.
// Errors that match no sentinel are returned unchanged.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case client.IsErrConnectionFailed(err), cerrdefs.IsUnavailable(err):
		return &engineError{kind: rt.ErrEngineUnavailable, err: err}
	case cerrdefs.IsNotFound(err):
		return &engineError{kind: rt.ErrNotFound, err: err}
	case cerrdefs.IsConflict(err):
		return &engineError{kind: rt.ErrConflict, err: err}
	case cerrdefs.IsPermissionDenied(err):
		// The engine answers 403 when a network still has endpoints or a
		// container is in a state that forbids the operation: for the
		// caller, the object is in use.
		return &engineError{kind: rt.ErrConflict, err: err}
	}
	return err
}

// notManaged is what every operation on a container or network without
// runtime.ManagedLabel returns: to mini-deploy it does not exist.
func notManaged(object, id string) error {
	return &engineError{kind: rt.ErrNotFound, err: fmt.Errorf("no such managed %s: %s", object, id)}
}
