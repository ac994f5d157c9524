package protocol

import (
	"regexp"
	"strconv"
)

// CallState is a call's state (MessageBird's list).
type CallState string

// The states. connecting → ringing → accepted → confirmed → ended, or failed.
const (
	StateConnecting CallState = "connecting"
	StateRinging    CallState = "ringing"
	StateAccepted   CallState = "accepted"
	StateConfirmed  CallState = "confirmed" // media flowing both ways
	StateEnded      CallState = "ended"
	StateFailed     CallState = "failed"
)

// Cause says why a call ended or failed.
type Cause string

// The causes, on ended and failed.
const (
	CauseNormal            Cause = "normal"             // ended: someone hung up an established call
	CauseBusy              Cause = "busy"               // ended: the callee is in another call
	CauseRejected          Cause = "rejected"           // ended: the callee declined
	CauseNoAnswer          Cause = "no_answer"          // ended: the ring timeout passed
	CauseCanceled          Cause = "canceled"           // ended: the caller hung up before the answer
	CauseAnsweredElsewhere Cause = "answered_elsewhere" // ended, for a callee connection that did not answer
	CauseCalleeOffline     Cause = "callee_offline"     // failed: no connection and no way to wake one
	CauseUnreachable       Cause = "unreachable"        // failed: a party's connection was lost
	CauseForbidden         Cause = "forbidden"          // failed: a grant is missing
	CauseMediaFailed       Cause = "media_failed"       // failed: media could not be set up
	CauseTimeout           Cause = "timeout"            // failed: media did not flow in time after the answer
	CauseServerShutdown    Cause = "server_shutdown"    // failed: the server closed
)

// Limits of a call's options and DTMF.
const (
	// MaxCustomDataEntries and MaxCustomDataBytes bound CallOptions.CustomData:
	// at most 16 entries, 1 KiB of keys and values in all.
	MaxCustomDataEntries = 16
	MaxCustomDataBytes   = 1024
	// MaxDTMFDigits is the longest digits string of a dtmf message.
	MaxDTMFDigits = 32
)

// CallOptions are what a caller asks for (and a callee answers with).
type CallOptions struct {
	Audio bool `json:"audio"`
	Video bool `json:"video"`
	// Recording is the call option of the recording policy:
	// UNDEFINED (default), AUDIO or AUDIO_AND_VIDEO.
	Recording string `json:"recording,omitempty"`
	// CustomData travels to the callee untouched (at most
	// MaxCustomDataEntries entries, MaxCustomDataBytes in all).
	CustomData map[string]string `json:"customData,omitempty"`
}

// Validate reports whether the options follow the rules a server enforces:
// a known Recording value and CustomData within its limits. The error is a
// bad_message *Error. Nil options are valid.
func (o *CallOptions) Validate() error {
	if o == nil {
		return nil
	}
	switch o.Recording {
	case "", "UNDEFINED", "AUDIO", "AUDIO_AND_VIDEO":
	default:
		return badMessage("recording must be UNDEFINED, AUDIO or AUDIO_AND_VIDEO")
	}
	size := 0
	for k, v := range o.CustomData {
		size += len(k) + len(v)
	}
	if len(o.CustomData) > MaxCustomDataEntries || size > MaxCustomDataBytes {
		return badMessage("customData is limited to 16 entries and 1 KiB")
	}
	return nil
}

var dtmfRule = regexp.MustCompile(`^[0-9*#A-D]{1,` + strconv.Itoa(MaxDTMFDigits) + `}$`)

// ValidDTMF reports whether digits is what a dtmf message may carry: 1 to
// MaxDTMFDigits of 0-9 * # A-D.
func ValidDTMF(digits string) bool { return dtmfRule.MatchString(digits) }
