package calling

import (
	"context"
	"time"
)

// Wakeup asks the host to wake a callee who has no live connection: an
// APNs VoIP push or an FCM high-priority message (package push).
type Wakeup struct {
	Account     string `json:"account"`
	Identity    string `json:"identity"`
	CallID      string `json:"callId"`
	From        string `json:"from"`
	DisplayName string `json:"displayName,omitempty"`
	// HasVideo says the caller asked for video (the call's options).
	HasVideo bool `json:"hasVideo"`
	// ExpiresAt is the call's start plus Config.RingTimeout: the call stops
	// ringing then (and fails unreachable if Wake has not returned).
	ExpiresAt time.Time `json:"expiresAt"`
}

// Waker wakes a callee's devices. Wake runs on a goroutine of its own,
// never under the call's lock, while the call is connecting: the caller
// can hang up meanwhile (the call ends canceled at once). ctx ends when the
// call ends (hung up, the caller's connection lost, the server closed, or
// Wakeup.ExpiresAt passed first: then it fails unreachable); Wake must
// return soon after. A nil error makes the call ring until the callee
// connects and answers or ExpiresAt passes (no_answer); an error fails it
// unreachable. A connection the callee opens while Wake runs rings at
// once, and the call is ringing from then on whatever Wake returns.
// Implementations must be safe for concurrent use.
type Waker interface {
	Wake(ctx context.Context, w Wakeup) error
}

// WakerFunc adapts a function to Waker.
type WakerFunc func(ctx context.Context, w Wakeup) error

// Wake implements Waker.
func (f WakerFunc) Wake(ctx context.Context, w Wakeup) error { return f(ctx, w) }
