package recording

import (
	"errors"
	"net/http"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// Errors of the package; test with errors.Is. HTTPStatus maps them to the
// REST error body.
var (
	// ErrNotFound: no such recording (or it belongs to another account).
	ErrNotFound = errors.New("recording: not found")
	// ErrClosed: the recorder, recording or writer is closed.
	ErrClosed = errors.New("recording: closed")
	// ErrInvalidPacket: a packet a writer cannot carry (empty or malformed).
	ErrInvalidPacket = errors.New("recording: invalid packet")
	// ErrUnsupportedCodec: a track whose codec is not recorded (H.264 video,
	// or audio other than Opus). The recording notes it in Unsupported.
	ErrUnsupportedCodec = errors.New("recording: codec not recorded")
	// ErrNotRecorded: a track the recording's type leaves out (video in an
	// AUDIO recording).
	ErrNotRecorded = errors.New("recording: this kind of track is not recorded")
	// ErrNotPermitted: the policy does not allow the requested recording.
	ErrNotPermitted = errors.New("recording: not permitted by the recording policy")
	// ErrAlreadyRecording: the call or room is already being recorded.
	ErrAlreadyRecording = errors.New("recording: already recording")
	// ErrNotRecording: the call or room is not being recorded.
	ErrNotRecording = errors.New("recording: not recording")
	// ErrTargetNotFound: no such call or session to record.
	ErrTargetNotFound = errors.New("recording: no such call or session")
	// ErrActive: the recording is still being written (it cannot be deleted).
	ErrActive = errors.New("recording: still recording")
	// ErrInvalid: a request breaks a rule (filter, cursor, target).
	ErrInvalid = errors.New("recording: invalid request")
)

// PolicyError is ErrNotPermitted with the policy's reason.
type PolicyError struct {
	Reason Reason
	Detail string
}

func (e *PolicyError) Error() string {
	return "recording: not permitted by the recording policy (" + string(e.Reason) + ")"
}

// Unwrap returns ErrNotPermitted.
func (e *PolicyError) Unwrap() error { return ErrNotPermitted }

// invalidError is ErrInvalid with a message safe to show a client.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return "recording: " + e.msg }
func (e *invalidError) Unwrap() error { return ErrInvalid }

func invalid(msg string) error { return &invalidError{msg} }

// HTTPStatus maps an error of this package (or of a Controller, which
// returns this package's errors) to an HTTP status and the stable code and
// message of the REST error body {"code","message"}: 400 invalid_request,
// 403 recording_not_permitted, 404 recording_not_found, target_not_found
// or not_recording, 409 already_recording or recording_active; the admin
// check's refusal as auth.HTTPStatus maps it; anything else 500
// internal_error. A store that cannot be reached (an error with
// Unavailable() bool true) is 503 store_unavailable.
func HTTPStatus(err error) (status int, code, message string) {
	var ie *invalidError
	var pe *PolicyError
	switch {
	case httpx.Unavailable(err):
		return httpx.StoreUnavailable()
	case errors.As(err, &ie):
		return http.StatusBadRequest, "invalid_request", ie.msg
	case errors.As(err, &pe):
		return http.StatusForbidden, "recording_not_permitted", "the recording policy does not allow it (" + string(pe.Reason) + ")"
	case errors.Is(err, ErrNotPermitted):
		return http.StatusForbidden, "recording_not_permitted", "the recording policy does not allow it"
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, "recording_not_found", "no such recording"
	case errors.Is(err, ErrTargetNotFound):
		return http.StatusNotFound, "target_not_found", "no such call or session"
	case errors.Is(err, ErrAlreadyRecording):
		return http.StatusConflict, "already_recording", "the call or session is already being recorded"
	case errors.Is(err, ErrNotRecording):
		return http.StatusNotFound, "not_recording", "the call or session is not being recorded"
	case errors.Is(err, ErrActive):
		return http.StatusConflict, "recording_active", "the recording is still being written; stop it first"
	}
	return auth.HTTPStatus(err)
}
