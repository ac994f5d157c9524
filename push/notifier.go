package push

import "context"

// Notifier sends one wake-up to one device through one provider: what
// adapters/apns and adapters/fcm implement. Send returns nil when the
// provider accepted the message, and otherwise an error the Waker reads
// with errors.As as a *SendError (dead token, transient with an optional
// retry-after, or permanent); any other error counts as permanent, except
// when ctx was cut, which the Waker treats as transient. Send must return
// soon after ctx is done. Implementations must be safe for concurrent use.
type Notifier interface {
	Send(ctx context.Context, d Device, w Wakeup) error
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, d Device, w Wakeup) error

// Send implements Notifier.
func (f NotifierFunc) Send(ctx context.Context, d Device, w Wakeup) error { return f(ctx, d, w) }

// Apps routes each device to the Notifier of its app (Device.App), for a
// host that serves several apps on one platform, each with its own
// credentials. The "" entry serves devices without an app and apps with no
// entry of their own; without it such a device fails permanently with
// ErrNoNotifier. Safe for concurrent use if not modified.
type Apps map[string]Notifier

// Send implements Notifier.
func (a Apps) Send(ctx context.Context, d Device, w Wakeup) error {
	n, ok := a[d.App]
	if !ok {
		n, ok = a[""]
	}
	if !ok || n == nil {
		return &SendError{Failure: FailurePermanent, Reason: "no_notifier", Err: ErrNoNotifier}
	}
	return n.Send(ctx, d, w)
}

var (
	_ Notifier = NotifierFunc(nil)
	_ Notifier = Apps(nil)
)
