package calling

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/coder/websocket"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// Errors of the package.
var (
	// ErrTextTooLong: a Broadcast text over DefaultMaxBroadcastBytes.
	ErrTextTooLong = errors.New("calling: text too long")

	// errCallNotFound and errCallOver are the calls API's answers for an
	// unknown call id (or another account's) and for hanging up a call
	// that has ended.
	errCallNotFound = errors.New("calling: no such call")
	errCallOver     = errors.New("calling: the call has already ended")
)

// IllegalTransitionError is a state change the call's state does not allow
// (answering a call that has ended, say).
type IllegalTransitionError struct{ From, To CallState }

func (e *IllegalTransitionError) Error() string {
	return fmt.Sprintf("calling: illegal call transition %s → %s", e.From, e.To)
}

// Close codes of the signaling WebSocket (4000 + the protocol error code, so
// a client reads the same code from an error message and a close frame).
const (
	CloseBadMessage websocket.StatusCode = 4400
	// CloseTokenExpired ends a connection whose token expired or was
	// revoked (reason token_expired or token_revoked) without a refresh
	// message first. A bad token at connect time is CloseForbidden.
	CloseTokenExpired  websocket.StatusCode = 4401
	CloseForbidden     websocket.StatusCode = 4403
	CloseNotAcceptable websocket.StatusCode = 4406
	CloseRateLimited   websocket.StatusCode = 4429
	CloseInternal      websocket.StatusCode = 4500
	CloseSlowConsumer  websocket.StatusCode = 4008
	CloseTimeout       websocket.StatusCode = 4408
	CloseSessionEnded  websocket.StatusCode = 4410
)

// protocolError maps an error to a signaling error: a code and a stable
// reason (docs/protocol.md).
func protocolError(err error) *ProtocolError {
	switch {
	case errors.Is(err, auth.ErrInvalidIdentity):
		return &ProtocolError{Code: 406, Reason: "identity_not_acceptable", Message: "identity must be 3-64 letters, digits or - _ + = / ."}
	case auth.SignalCode(err) == 403:
		return &ProtocolError{Code: 403, Reason: "token_invalid", Message: "token expired or invalid; refresh it and retry"}
	case errors.Is(err, rooms.ErrSessionFull):
		return &ProtocolError{Code: 409, Reason: "session_full", Message: "the session is full"}
	case errors.Is(err, rooms.ErrTooManySessions):
		return &ProtocolError{Code: 409, Reason: "too_many_sessions", Message: "the participant is already in another session"}
	case errors.Is(err, rooms.ErrNotFound), errors.Is(err, rooms.ErrNotMember):
		return &ProtocolError{Code: 404, Reason: "not_found", Message: "no such session, or not a member of it"}
	case errors.Is(err, rooms.ErrPublishNotPermitted):
		return &ProtocolError{Code: 403, Reason: "publish_not_permitted", Message: "the token does not allow publishing that media"}
	case errors.Is(err, rooms.ErrInvalid):
		return &ProtocolError{Code: 400, Reason: "bad_request", Message: err.Error()}
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe
	}
	var it *IllegalTransitionError
	if errors.As(err, &it) {
		return &ProtocolError{Code: 409, Reason: "illegal_transition", Message: it.Error()}
	}
	return &ProtocolError{Code: 500, Reason: "internal", Message: "internal error"}
}

// HTTPStatus maps an error of the calls API (CallsHandler) to an HTTP
// status and the stable code and message of the error body
// {"code","message"}: 404 call_not_found, 409 call_over, the admin check's
// refusal as auth.HTTPStatus maps it, and a call PlaceCall refuses as 400
// with its signaling reason (docs/protocol.md) as the code. Anything else is
// 500 internal_error.
func HTTPStatus(err error) (status int, code, message string) {
	switch {
	case errors.Is(err, errCallNotFound):
		return http.StatusNotFound, "call_not_found", "no such call"
	case errors.Is(err, errCallOver):
		return http.StatusConflict, "call_over", "the call has already ended"
	case errors.Is(err, auth.ErrMissingGrant), errors.Is(err, auth.ErrNoCredentials):
		return auth.HTTPStatus(err)
	}
	pe := protocolError(err)
	if pe.Code == 500 {
		return http.StatusInternalServerError, "internal_error", "internal error"
	}
	return http.StatusBadRequest, pe.Reason, pe.Message
}

func (e *ProtocolError) Error() string { return e.Reason + ": " + e.Message }

func badMessage(msg string) *ProtocolError {
	return &ProtocolError{Code: 400, Reason: "bad_message", Message: msg}
}
