package rooms

import (
	"errors"
	"net/http"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// Errors of the package. Manager methods wrap them; test with errors.Is and
// map to the wire with HTTPStatus.
var (
	// ErrNotFound: a store has no such record (or it belongs to another account).
	ErrNotFound = errors.New("rooms: not found")
	// ErrExists: a store already has a record with that key.
	ErrExists = errors.New("rooms: already exists")
	// ErrSessionNotFound and ErrParticipantNotFound wrap ErrNotFound.
	ErrSessionNotFound     = &kindError{"session", ErrNotFound}
	ErrParticipantNotFound = &kindError{"participant", ErrNotFound}
	// ErrNotMember: the participant is not in that session.
	ErrNotMember = errors.New("rooms: participant is not a member of the session")
	// ErrSessionFull: the session is at MaxParticipantsPerSession.
	ErrSessionFull = errors.New("rooms: session is full")
	// ErrTooManySessions: the participant is at MaxSessionsPerParticipant.
	ErrTooManySessions = errors.New("rooms: participant is in too many sessions")
	// ErrInvalid: a request breaks a rule (tag length, stream alias, subscription form).
	ErrInvalid = errors.New("rooms: invalid request")
	// ErrInvalidCharacters: a tag or room name holds a control character
	// (C0 or C1), invalid UTF-8, or a bidirectional override, isolate or mark
	// (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F). It wraps ErrInvalid;
	// on the wire it is 400 invalid_characters.
	ErrInvalidCharacters = &textError{}
	// ErrPublishNotPermitted: a stream of a media type outside the participant's permissions.
	ErrPublishNotPermitted = errors.New("rooms: publish not permitted")
	// ErrSlowConsumer ends an event subscription whose reader fell behind.
	ErrSlowConsumer = errors.New("rooms: event consumer too slow; subscription dropped")
)

type kindError struct {
	kind string
	err  error
}

func (e *kindError) Error() string { return "rooms: " + e.kind + " not found" }
func (e *kindError) Unwrap() error { return e.err }

// invalid wraps ErrInvalid with a message safe to show a client.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return "rooms: " + e.msg }
func (e *invalidError) Unwrap() error { return ErrInvalid }

func invalid(msg string) error { return &invalidError{msg} }

// textError is ErrInvalidCharacters for one field.
type textError struct{ field string }

func (e *textError) Error() string {
	return "rooms: " + e.field + " holds a control character or a bidirectional override"
}
func (e *textError) Unwrap() error { return ErrInvalid }

// Is makes every textError match ErrInvalidCharacters.
func (e *textError) Is(target error) bool { _, ok := target.(*textError); return ok }

// checkText returns a textError for field unless s is safe text.
func checkText(field, s string) error {
	if !httpx.SafeText(s) {
		return &textError{field}
	}
	return nil
}

// HTTPStatus maps an error of the REST handler to an HTTP status and the
// stable code and message of the error body {"code","message"}: this
// package's errors by their meaning, a Store or Bus that cannot reach its
// server as 503 store_unavailable, auth's (the admin check, minting) as
// auth.HTTPStatus maps them, anything else as 500 internal_error.
func HTTPStatus(err error) (status int, code, message string) {
	var ie *invalidError
	var te *textError
	switch {
	case httpx.Unavailable(err):
		return httpx.StoreUnavailable()
	case errors.As(err, &te):
		return http.StatusBadRequest, "invalid_characters", te.field + " must not hold control characters or bidirectional overrides"
	case errors.Is(err, ErrSessionNotFound):
		return http.StatusNotFound, "session_not_found", "no such session"
	case errors.Is(err, ErrParticipantNotFound):
		return http.StatusNotFound, "participant_not_found", "no such participant"
	case errors.Is(err, ErrNotMember):
		return http.StatusNotFound, "not_a_member", "the participant is not in this session"
	case errors.Is(err, ErrSessionFull):
		return http.StatusConflict, "session_full", "the session has reached its participant limit"
	case errors.Is(err, ErrTooManySessions):
		return http.StatusConflict, "too_many_sessions", "the participant is already in as many sessions as allowed"
	case errors.As(err, &ie):
		return http.StatusBadRequest, "invalid_request", ie.msg
	case errors.Is(err, ErrPublishNotPermitted):
		return http.StatusForbidden, "publish_not_permitted", "the participant may not publish that media type"
	}
	return auth.HTTPStatus(err)
}
