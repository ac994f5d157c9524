package calling

import (
	"fmt"
	"time"
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

// transitions lists the legal moves; anything else is refused, never applied.
var transitions = map[CallState][]CallState{
	StateConnecting: {StateRinging, StateEnded, StateFailed},
	StateRinging:    {StateAccepted, StateEnded, StateFailed},
	StateAccepted:   {StateConfirmed, StateEnded, StateFailed},
	StateConfirmed:  {StateEnded, StateFailed},
}

// nextState checks a transition and its cause: ended and failed need one,
// other states take none.
func nextState(from, to CallState, cause Cause) error {
	ok := false
	for _, s := range transitions[from] {
		ok = ok || s == to
	}
	if !ok {
		return &IllegalTransitionError{From: from, To: to}
	}
	if (to == StateEnded || to == StateFailed) != (cause != "") {
		return fmt.Errorf("calling: state %s with cause %q", to, cause)
	}
	return nil
}

// StateChange is one entry of a call's history.
type StateChange struct {
	State CallState `json:"state"`
	Cause Cause     `json:"cause,omitempty"`
	At    time.Time `json:"at"`
}
