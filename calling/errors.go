package calling

import (
	"errors"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// Errors of the package.
var (
	// ErrClosed: the Server has been closed.
	ErrClosed = errors.New("calling: server closed")
	// ErrNoSuchRoom: Broadcast to a session nobody is connected to.
	ErrNoSuchRoom = errors.New("calling: no live room for that session")
	// ErrTextTooLong: a broadcast or data message over the limit.
	ErrTextTooLong = errors.New("calling: text too long")
)

// protocolError maps an error to a signaling error: a code and a stable
// reason (docs/protocol.md).
func protocolError(err error) *protocol.Error {
	switch {
	case errors.Is(err, auth.ErrInvalidIdentity):
		return &protocol.Error{Code: 406, Reason: protocol.ReasonIdentityNotAcceptable, Message: "identity must be 3-64 letters, digits or - _ + = / ."}
	case auth.SignalCode(err) == 403:
		return &protocol.Error{Code: 403, Reason: protocol.ReasonTokenInvalid, Message: "token expired or invalid; refresh it and retry"}
	case errors.Is(err, rooms.ErrSessionFull):
		return &protocol.Error{Code: 409, Reason: protocol.ReasonSessionFull, Message: "the session is full"}
	case errors.Is(err, rooms.ErrTooManySessions):
		return &protocol.Error{Code: 409, Reason: protocol.ReasonTooManySessions, Message: "the participant is already in another session"}
	case errors.Is(err, rooms.ErrNotFound), errors.Is(err, rooms.ErrNotMember):
		return &protocol.Error{Code: 404, Reason: protocol.ReasonNotFound, Message: "no such session, or not a member of it"}
	case errors.Is(err, rooms.ErrPublishNotPermitted):
		return &protocol.Error{Code: 403, Reason: protocol.ReasonPublishNotPermitted, Message: "the token does not allow publishing that media"}
	case errors.Is(err, rooms.ErrInvalid):
		return &protocol.Error{Code: 400, Reason: protocol.ReasonBadRequest, Message: err.Error()}
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	var it *ErrIllegalTransition
	if errors.As(err, &it) {
		return &protocol.Error{Code: 409, Reason: protocol.ReasonIllegalTransition, Message: it.Error()}
	}
	return &protocol.Error{Code: 500, Reason: protocol.ReasonInternal, Message: "internal error"}
}

func badMessage(msg string) *protocol.Error {
	return &protocol.Error{Code: 400, Reason: protocol.ReasonBadMessage, Message: msg}
}
