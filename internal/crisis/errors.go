package crisis

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is a refusal the API shows as it is: an HTTP status, a message that
// says what to do next, a stable machine code (docs/crisis-e2ee.md, "Error
// codes": clients show their own words for the codes they know, and the
// message for the others), and extra fields for the JSON answer (the 409 of
// an envelope carries the room's epoch and the sender's chain head).
type Error struct {
	Status int
	Code   string // "" : the status's generic code (statusCode)
	Msg    string
	Extra  map[string]any
	// RetryAfter, when set, is sent as the Retry-After header (seconds)
	// and as "retry_after" in the body.
	RetryAfter int
}

func (e *Error) Error() string { return fmt.Sprintf("crisis: %d: %s", e.Status, e.Msg) }

// Error codes (docs/crisis-e2ee.md, "Error codes"). A code, once
// published, keeps its meaning; new ones may be added.
const (
	CodeBadRequest      = "bad_request"
	CodeNotSignedIn     = "not_signed_in"
	CodeSessionExpired  = "session_expired"
	CodeForbidden       = "forbidden"
	CodeNotFound        = "not_found"
	CodeConflict        = "conflict"
	CodeGone            = "gone"
	CodeTooLarge        = "too_large"
	CodeRateLimited     = "rate_limited"
	CodeInternal        = "internal"
	CodeNoEndpoint      = "no_endpoint"
	CodeRoomNotFound    = "room_not_found"
	CodeRoomExists      = "room_exists"
	CodeRoleForbidden   = "role_forbidden"
	CodeTokenInvalid    = "token_invalid"
	CodeMemberRemoved   = "member_removed"
	CodeNotAdmitted     = "not_admitted"
	CodeNotCoordinator  = "not_coordinator"
	CodeInviteInvalid   = "invite_invalid"
	CodeInviteUsed      = "invite_used"
	CodeInviteExpired   = "invite_expired"
	CodeAlreadyJoined   = "already_joined"
	CodeJoinRateLimited = "join_rate_limited"
	CodeTooManyPending  = "too_many_pending"
	CodeBadProof        = "bad_proof"
	CodeRosterStale     = "roster_stale"
	CodeRosterRefused   = "roster_refused"
	CodeEpochConflict   = "epoch_conflict"
	CodeChainConflict   = "chain_conflict"
	CodeUnavailable     = "unavailable"
	CodeBlobNotFound    = "attachment_not_found"
)

// statusCode is the code of a refusal that has no more precise one.
func statusCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return CodeBadRequest
	case http.StatusUnauthorized:
		return CodeTokenInvalid
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusConflict:
		return CodeConflict
	case http.StatusGone:
		return CodeGone
	case http.StatusRequestEntityTooLarge:
		return CodeTooLarge
	case http.StatusTooManyRequests:
		return CodeRateLimited
	case http.StatusServiceUnavailable:
		return CodeUnavailable
	default:
		if status >= 500 {
			return CodeInternal
		}
		return CodeBadRequest
	}
}

func errf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// coded is errf with a code.
func coded(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *Error {
	return errf(http.StatusBadRequest, format, args...)
}

// asError returns the *Error inside err, if any.
func asError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
