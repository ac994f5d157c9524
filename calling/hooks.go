package calling

import (
	"context"
	"time"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// CallEvent is one state change of a call, for the host.
type CallEvent struct {
	CallID    string               `json:"callId"`
	Account   string               `json:"account"`
	From      string               `json:"from"`
	To        string               `json:"to"`
	State     protocol.CallState   `json:"state"`
	Cause     protocol.Cause       `json:"cause,omitempty"`
	SessionID string               `json:"sessionId,omitempty"`
	Options   protocol.CallOptions `json:"options"`
	At        time.Time            `json:"at"`
}

// DTMFEvent is digits one party of a call sent.
type DTMFEvent struct {
	CallID  string    `json:"callId"`
	Account string    `json:"account"`
	From    string    `json:"from"`
	Digits  string    `json:"digits"`
	At      time.Time `json:"at"`
}

// ParticipantEvent is a participant connecting to or leaving a session.
type ParticipantEvent struct {
	Account       string    `json:"account"`
	SessionID     string    `json:"sessionId"`
	ParticipantID string    `json:"participantId"`
	Identity      string    `json:"identity"`
	Joined        bool      `json:"joined"`
	At            time.Time `json:"at"`
}

// Hooks receive what happens, for the host's own logic (IVR on DTMF,
// billing on call states, ...). The code that raises an event never waits
// for a hook: the event is queued (Config.HookQueue) and delivered by the
// server's own goroutines, never on the media or signaling paths. Events of
// one call (of one session, for participant events) arrive one at a time, in
// order; those of different calls may arrive concurrently (up to
// Config.HookConcurrency at once), so implementations must be safe for
// concurrent use. A hook that blocks holds one of the HookConcurrency
// slots and delays the later events of its call; once every slot is held by
// a blocked hook, all deliveries wait (and the queue fills, dropping the
// oldest past HookQueue, counted), so hooks must return promptly: hand slow
// work to a goroutine or queue of your own.
// NewWebhooks returns Hooks that store events in an outbox and POST them,
// signed, at least once.
type Hooks interface {
	CallStateChanged(ctx context.Context, e CallEvent)
	DTMFReceived(ctx context.Context, e DTMFEvent)
	ParticipantChanged(ctx context.Context, e ParticipantEvent)
}

// NopHooks ignores everything.
type NopHooks struct{}

func (NopHooks) CallStateChanged(context.Context, CallEvent)          {}
func (NopHooks) DTMFReceived(context.Context, DTMFEvent)              {}
func (NopHooks) ParticipantChanged(context.Context, ParticipantEvent) {}
func (NopHooks) QualityChanged(context.Context, QualityEvent)         {}

var _ Hooks = NopHooks{}
