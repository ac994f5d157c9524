package recording

import (
	"errors"
	"net/http"

	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// Errors of the package; test with errors.Is. HTTPError maps them to the
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

// HTTPError maps an error of this package (or of a Controller) to the REST
// error body with its status and stable code. A store that cannot be
// reached (an error with Unavailable() bool true) is 503 store_unavailable.
func HTTPError(err error) *httpx.Error {
	var ie *invalidError
	var pe *PolicyError
	switch {
	case httpx.Unavailable(err):
		status, code, msg := httpx.StoreUnavailable()
		return httpx.Errorf(status, code, "%s", msg)
	case errors.As(err, &ie):
		return httpx.Errorf(http.StatusBadRequest, "invalid_request", "%s", ie.msg)
	case errors.As(err, &pe):
		return httpx.Errorf(http.StatusForbidden, "recording_not_permitted", "the recording policy does not allow it (%s)", pe.Reason)
	case errors.Is(err, ErrNotPermitted):
		return httpx.Errorf(http.StatusForbidden, "recording_not_permitted", "the recording policy does not allow it")
	case errors.Is(err, ErrNotFound):
		return httpx.Errorf(http.StatusNotFound, "recording_not_found", "no such recording")
	case errors.Is(err, ErrTargetNotFound):
		return httpx.Errorf(http.StatusNotFound, "target_not_found", "no such call or session")
	case errors.Is(err, ErrAlreadyRecording):
		return httpx.Errorf(http.StatusConflict, "already_recording", "the call or session is already being recorded")
	case errors.Is(err, ErrNotRecording):
		return httpx.Errorf(http.StatusNotFound, "not_recording", "the call or session is not being recorded")
	case errors.Is(err, ErrActive):
		return httpx.Errorf(http.StatusConflict, "recording_active", "the recording is still being written; stop it first")
	}
	var he *httpx.Error
	if errors.As(err, &he) {
		return he
	}
	return httpx.Errorf(http.StatusInternalServerError, "internal_error", "internal error")
}
