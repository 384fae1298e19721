package crisis

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is a refusal the API shows as it is: an HTTP status, a message that
// says what to do next, and extra fields for the JSON answer (the 409 of an
// envelope carries the room's epoch and the sender's chain head).
type Error struct {
	Status int
	Msg    string
	Extra  map[string]any
}

func (e *Error) Error() string { return fmt.Sprintf("crisis: %d: %s", e.Status, e.Msg) }

func errf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *Error {
	return errf(http.StatusBadRequest, format, args...)
}

func forbidden(format string, args ...any) *Error {
	return errf(http.StatusForbidden, format, args...)
}

// asError returns the *Error inside err, if any.
func asError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
