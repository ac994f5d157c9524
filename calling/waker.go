package calling

import (
	"context"
	"time"
)

// Wakeup asks the host to wake a callee who has no live connection: an
// APNs VoIP push or an FCM high-priority message (package push).
type Wakeup struct {
	Account     string    `json:"account"`
	Identity    string    `json:"identity"`
	CallID      string    `json:"callId"`
	From        string    `json:"from"`
	DisplayName string    `json:"displayName,omitempty"`
	ExpiresAt   time.Time `json:"expiresAt"`
}

// Waker wakes a callee's devices. After a successful Wake the call keeps
// ringing until the callee connects and answers or the ring timeout passes.
// Implementations must be safe for concurrent use.
type Waker interface {
	Wake(ctx context.Context, w Wakeup) error
}

// WakerFunc adapts a function to Waker.
type WakerFunc func(ctx context.Context, w Wakeup) error

// Wake implements Waker.
func (f WakerFunc) Wake(ctx context.Context, w Wakeup) error { return f(ctx, w) }
