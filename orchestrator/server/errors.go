package server

import (
	"errors"
	"net/http"

	"github.com/mini-deploy/mini-deploy/orchestrator/api"
)

// Reasons carried by a Status, as the Kubernetes API server names them.
const (
	ReasonNotFound      = "NotFound"
	ReasonAlreadyExists = "AlreadyExists"
	ReasonConflict      = "Conflict"
	ReasonInvalid       = "Invalid"
	ReasonBadRequest    = "BadRequest"
	ReasonInternalError = "InternalError"
)

// Status is the body of every error answer. Message is the backend's error
// text, verbatim, because the CLI prints it as it is: the store already words
// it the way kubectl users expect (`deployments.apps "nope" not found`).
type Status struct {
	Kind    string `json:"kind"` // always "Status"
	Message string `json:"message"`
	Reason  string `json:"reason"`
	Code    int    `json:"code"`
}

// StatusFor maps an error from a Backend to the Status the API answers with.
func StatusFor(err error) Status {
	st := Status{Kind: "Status", Message: err.Error(), Reason: ReasonInternalError, Code: http.StatusInternalServerError}
	var invalid *api.ValidationError
	var bad *badRequestError
	switch {
	case errors.As(err, &bad):
		st.Reason, st.Code = ReasonBadRequest, http.StatusBadRequest
	case errors.Is(err, api.ErrNotFound):
		st.Reason, st.Code = ReasonNotFound, http.StatusNotFound
	case errors.Is(err, api.ErrAlreadyExists):
		st.Reason, st.Code = ReasonAlreadyExists, http.StatusConflict
	case errors.Is(err, api.ErrConflict):
		st.Reason, st.Code = ReasonConflict, http.StatusConflict
	case errors.As(err, &invalid):
		st.Reason, st.Code = ReasonInvalid, http.StatusUnprocessableEntity
	}
	return st
}

// badRequestError is a request the server itself could not make sense of,
// before any backend saw it.
type badRequestError struct{ msg string }

func (e *badRequestError) Error() string { return e.msg }

func badRequest(msg string) error { return &badRequestError{msg} }
