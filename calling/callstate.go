package calling

import (
	"fmt"
	"time"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// transitions lists the legal moves; anything else is refused, never applied.
var transitions = map[protocol.CallState][]protocol.CallState{
	protocol.StateConnecting: {protocol.StateRinging, protocol.StateEnded, protocol.StateFailed},
	protocol.StateRinging:    {protocol.StateAccepted, protocol.StateEnded, protocol.StateFailed},
	protocol.StateAccepted:   {protocol.StateConfirmed, protocol.StateEnded, protocol.StateFailed},
	protocol.StateConfirmed:  {protocol.StateEnded, protocol.StateFailed},
}

// nextState checks a transition and its cause: ended and failed need one,
// other states take none.
func nextState(from, to protocol.CallState, cause protocol.Cause) error {
	ok := false
	for _, s := range transitions[from] {
		ok = ok || s == to
	}
	if !ok {
		return &IllegalTransitionError{From: from, To: to}
	}
	if (to == protocol.StateEnded || to == protocol.StateFailed) != (cause != "") {
		return fmt.Errorf("calling: state %s with cause %q", to, cause)
	}
	return nil
}

// StateChange is one entry of a call's history.
type StateChange struct {
	State protocol.CallState `json:"state"`
	Cause protocol.Cause     `json:"cause,omitempty"`
	At    time.Time          `json:"at"`
}
