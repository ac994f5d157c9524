package calling

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
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

	// ErrReconnectURL: a DrainOptions.ReconnectURL that is not an absolute
	// ws:// or wss:// URL.
	ErrReconnectURL = errors.New("calling: ReconnectURL must be an absolute ws:// or wss:// URL")

	// ErrMediaConfig: a MediaConfig.SendBatch or SocketBuffer below -1.
	ErrMediaConfig = errors.New("calling: MediaConfig.SendBatch and SocketBuffer must be -1, 0 or positive")
)

// Errors of recording on demand (Server.StartRecording, StopRecording).
var (
	// ErrNoRecorder: Config.Recorder is nil.
	ErrNoRecorder = errors.New("calling: no Recorder configured")
	// ErrRecordingTargetNotFound: no answered call with that id, or no room
	// with someone connected to it on this node, in the account.
	ErrRecordingTargetNotFound = errors.New("calling: no such live call or room to record")
	// ErrRecordingType: a type other than AUDIO or AUDIO_AND_VIDEO.
	ErrRecordingType = errors.New("calling: recording type must be AUDIO or AUDIO_AND_VIDEO")
	// ErrAlreadyRecording: the call or room is being recorded. (A start on
	// demand waits for an automatic decision under way, which may record
	// nothing.)
	ErrAlreadyRecording = errors.New("calling: already recording")
	// ErrNotRecording: the call or room is not being recorded.
	ErrNotRecording = errors.New("calling: not recording")
	// ErrRecordingAutomatic: the recording policy started this recording
	// when the call was answered or a participant joined the room; it runs
	// until the call or room ends and is not stopped on demand.
	ErrRecordingAutomatic = errors.New("calling: a recording the policy started runs until the end")
	// ErrRecordingRefused: the Recorder started nothing and gave no reason.
	ErrRecordingRefused = errors.New("calling: the Recorder did not start a recording")
)

// IllegalTransitionError is a state change the call's state does not allow
// (answering a call that has ended, say).
type IllegalTransitionError struct{ From, To protocol.CallState }

func (e *IllegalTransitionError) Error() string {
	return fmt.Sprintf("calling: illegal call transition %s → %s", e.From, e.To)
}

// errStoreUnavailable is the signaling error of a request that failed
// because a shared store (rooms.Store, Presence, the token replay cache)
// could not be reached: the request may be retried on the same connection.
var errStoreUnavailable = &protocol.Error{Code: 503, Reason: protocol.ReasonStoreUnavailable, Message: "the shared store is unreachable; try again shortly"}

// restStoreUnavailable is the same refusal on HTTP: 503 store_unavailable.
func restStoreUnavailable() *httpx.Error {
	status, code, msg := httpx.StoreUnavailable()
	return &httpx.Error{Status: status, Code: code, Message: msg}
}

// protocolError maps an error to a signaling error: a code and a stable
// reason (docs/protocol.md). An error that says a shared store is
// unavailable (httpx.Unavailable) is 503 store_unavailable, however the
// package wrapped it.
func protocolError(err error) *protocol.Error {
	switch {
	case httpx.Unavailable(err):
		e := *errStoreUnavailable
		return &e
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
	var it *IllegalTransitionError
	if errors.As(err, &it) {
		return &protocol.Error{Code: 409, Reason: protocol.ReasonIllegalTransition, Message: it.Error()}
	}
	return &protocol.Error{Code: 500, Reason: protocol.ReasonInternal, Message: "internal error"}
}

// HTTPStatus maps an error of the calls API (CallsHandler) to an HTTP
// status and the stable code and message of the error body
// {"code","message"}: 404 call_not_found, 409 call_over, the admin check's
// refusal as auth.HTTPStatus maps it, and a call PlaceCall refuses as 400
// with its signaling reason (docs/protocol.md) as the code (a limit keeps
// its 429 or 503: server_full when the server holds Limits.Calls live
// calls); a shared store (Presence) that cannot be reached is 503
// store_unavailable. Anything else is 500 internal_error.
func HTTPStatus(err error) (status int, code, message string) {
	switch {
	case httpx.Unavailable(err):
		return httpx.StoreUnavailable()
	case errors.Is(err, errCallNotFound):
		return http.StatusNotFound, "call_not_found", "no such call"
	case errors.Is(err, errCallOver):
		return http.StatusConflict, "call_over", "the call has already ended"
	case errors.Is(err, auth.ErrMissingGrant), errors.Is(err, auth.ErrNoCredentials):
		return auth.HTTPStatus(err)
	}
	var re *rpcError
	if errors.As(err, &re) { // another node's answer, as it gave it
		return re.Status, re.Code, re.Message
	}
	pe := protocolError(err)
	switch pe.Code {
	case 500:
		return http.StatusInternalServerError, "internal_error", "internal error"
	case http.StatusTooManyRequests, http.StatusServiceUnavailable: // limits keep their status
		return pe.Code, pe.Reason, pe.Message
	}
	return http.StatusBadRequest, pe.Reason, pe.Message
}

func badMessage(msg string) *protocol.Error {
	return &protocol.Error{Code: 400, Reason: protocol.ReasonBadMessage, Message: msg}
}

// Errors of outboxes.
var (
	// ErrOutboxClosed: Append, Next or Ack on a closed outbox.
	ErrOutboxClosed = errors.New("calling: outbox closed")
	// ErrOutboxCorrupt: a FileOutbox found a record it cannot read that is
	// not a torn write at the end of its log.
	ErrOutboxCorrupt = errors.New("calling: outbox log corrupt")
)

// Errors of webhook signing and verification.
var (
	// ErrWebhookSecret: a secret that is neither raw bytes nor a valid
	// "whsec_<base64>", or too short.
	ErrWebhookSecret = errors.New("calling: invalid webhook secret")
	// ErrWebhookHeaders: webhook-id, webhook-timestamp or webhook-signature
	// missing or malformed.
	ErrWebhookHeaders = errors.New("calling: webhook headers missing or malformed")
	// ErrWebhookTimestamp: the timestamp is outside the tolerance (a replay,
	// or a clock far off).
	ErrWebhookTimestamp = errors.New("calling: webhook timestamp outside the tolerance")
	// ErrWebhookSignature: no signature matches.
	ErrWebhookSignature = errors.New("calling: webhook signature mismatch")
)
