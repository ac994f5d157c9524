package push

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Defaults of Config.
const (
	DefaultAttemptTimeout = 5 * time.Second
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 8 * time.Second
)

// Config configures New. The zero value works: an empty MemoryRegistry, no
// notifiers (every device fails with ErrNoNotifier), the real clock, no logs.
type Config struct {
	// Registry holds the devices and loses the dead ones. Default: a new
	// MemoryRegistry with its defaults (Registry returns it).
	Registry Registry
	// Notifiers sends through each platform's provider (adapters/apns,
	// adapters/fcm; Apps routes by app within a platform). A device whose
	// platform has none fails permanently with ErrNoNotifier.
	Notifiers map[Platform]Notifier
	// Clock times expiries, attempts and retries. Nil: the real clock.
	Clock Clock
	// Logger receives failures (Warn) and outcomes (Debug); never tokens or
	// credentials. Default: discard.
	Logger *slog.Logger
	// OnOutcome is told every outcome of every device (delivered, retried,
	// dead_token_removed, failed, expired), for hooks and webhooks. It is
	// called from the delivery goroutines, possibly concurrently, and must
	// not block. Nil: outcomes are only logged.
	OnOutcome func(Outcome)
	// AttemptTimeout cuts one send that hangs; the cut counts as a
	// transient failure and is retried. Default 5 s.
	AttemptTimeout time.Duration
	// InitialBackoff is the wait before the first retry of a transient
	// failure; each retry doubles it, up to MaxBackoff, and a random part
	// (up to half) is taken off so that retries spread. A provider's
	// retry-after replaces it. Defaults 500 ms and 8 s.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
}

// OutcomeKind names what happened to one device's wake-up.
type OutcomeKind string

// The outcomes.
const (
	// OutcomeDelivered: the provider accepted the message.
	OutcomeDelivered OutcomeKind = "delivered"
	// OutcomeRetried: a transient failure; another attempt follows after RetryIn.
	OutcomeRetried OutcomeKind = "retried"
	// OutcomeDeadTokenRemoved: the provider called the token dead; the device is gone.
	OutcomeDeadTokenRemoved OutcomeKind = "dead_token_removed"
	// OutcomeFailed: a permanent failure, no notifier, no device at all
	// (Reason "no_devices"), or the delivery was stopped ("canceled", "closed").
	OutcomeFailed OutcomeKind = "failed"
	// OutcomeExpired: the wake-up's expiry came (or the next retry would
	// come after it) before any provider accepted.
	OutcomeExpired OutcomeKind = "expired"
)

// Outcome is one event of a wake-up for one device. It names the device by
// its id, never by its token.
type Outcome struct {
	Kind     OutcomeKind `json:"kind"`
	Account  string      `json:"account"`
	Identity string      `json:"identity"`
	CallID   string      `json:"callId"`
	// DeviceID and Platform are empty for an outcome of the whole wake-up
	// (no devices).
	DeviceID string   `json:"deviceId,omitempty"`
	Platform Platform `json:"platform,omitempty"`
	// Attempt counts sends to this device, from 1 (0: none was made).
	Attempt int `json:"attempt"`
	// Status and Reason are the provider's answer when there was one
	// (410 "Unregistered", 404 "UNREGISTERED", 429 "TooManyRequests"), or
	// our reason: "timeout", "no_notifier", "no_devices", "expired",
	// "canceled", "closed".
	Status int    `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
	// RetryIn is the wait before the next attempt (OutcomeRetried only).
	RetryIn time.Duration `json:"retryIn,omitempty"`
	At      time.Time     `json:"at"`
}

// Waker wakes a callee's devices: it sends to all of them at once and
// retries transient failures until the wake-up expires. Wake's signature
// matches calling.Waker once a host converts the Wakeup. Safe for
// concurrent use; Close stops every delivery in flight.
type Waker struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelCauseFunc
	mu     sync.Mutex // guards closed and wg.Add against Close
	closed bool
	wg     sync.WaitGroup

	counters outcomeCounters // Stats (stats.go)
}

// errAttemptTimeout is the cause of an attempt cut by AttemptTimeout;
// errCanceled the cause of deliveries stopped because Wake's ctx ended.
var (
	errAttemptTimeout = errors.New("push: attempt timed out")
	errCanceled       = errors.New("push: wake-up canceled")
)

// New returns a Waker.
func New(cfg Config) (*Waker, error) {
	if cfg.Registry == nil {
		cfg.Registry = NewMemoryRegistry(MemoryRegistryConfig{Clock: cfg.Clock})
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	cfg.AttemptTimeout = cmp.Or(cfg.AttemptTimeout, DefaultAttemptTimeout)
	cfg.InitialBackoff = cmp.Or(cfg.InitialBackoff, DefaultInitialBackoff)
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, DefaultMaxBackoff)
	if cfg.AttemptTimeout < 0 || cfg.InitialBackoff < 0 || cfg.MaxBackoff < cfg.InitialBackoff {
		return nil, errors.New("push: AttemptTimeout and backoffs must be positive, MaxBackoff at least InitialBackoff")
	}
	for p, n := range cfg.Notifiers {
		if p != APNs && p != FCM {
			return nil, fmt.Errorf("%w: notifier for %q", ErrInvalidPlatform, p)
		}
		if n == nil {
			return nil, fmt.Errorf("push: nil notifier for %s", p)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	return &Waker{cfg: cfg, log: log, ctx: ctx, cancel: cancel}, nil
}

// Registry returns the registry the Waker reads (the default one if Config
// had none), for the host to serve with NewHandler.
func (w *Waker) Registry() Registry { return w.cfg.Registry }

// Wake sends wk to every device of its identity at once and returns nil as
// soon as one provider accepted; the other devices' deliveries (and their
// retries) go on in the background until they end or wk expires. It returns
// an error wrapping ErrNoDevices, ErrExpired, ErrInvalidWakeup, ErrClosed, or
// ErrNotDelivered (with each device's error) when every device failed. If
// ctx ends first, the deliveries are stopped and Wake returns ctx's error.
// Wake blocks at most until wk.ExpiresAt (and, while a send hangs, one
// AttemptTimeout).
func (w *Waker) Wake(ctx context.Context, wk Wakeup) error {
	if wk.Account == "" || wk.Identity == "" || wk.CallID == "" || wk.ExpiresAt.IsZero() {
		return ErrInvalidWakeup
	}
	whole := Outcome{Account: wk.Account, Identity: wk.Identity, CallID: wk.CallID}
	now := w.cfg.Clock.Now()
	if !now.Before(wk.ExpiresAt) {
		whole.Kind, whole.Reason = OutcomeExpired, "expired"
		w.report(whole)
		return ErrExpired
	}
	devices, err := w.cfg.Registry.Devices(ctx, wk.Account, wk.Identity)
	if err != nil {
		return fmt.Errorf("push: list devices: %w", err)
	}
	if len(devices) == 0 {
		whole.Kind, whole.Reason = OutcomeFailed, "no_devices"
		w.report(whole)
		return ErrNoDevices
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.wg.Add(1)
	w.mu.Unlock()

	dctx, cancel := context.WithCancelCause(w.ctx)
	stopExpiry := w.cfg.Clock.AfterFunc(wk.ExpiresAt.Sub(now), func() { cancel(ErrExpired) })
	verdict := make(chan error, 1)
	// The owner of this wake-up's deliveries: it waits for every device.
	go func() {
		defer w.wg.Done()
		defer cancel(nil)
		defer stopExpiry()
		results := make(chan error, len(devices))
		for _, d := range devices {
			go func() { results <- w.deliver(dctx, wk, d) }()
		}
		var errs []error
		delivered := false
		for range devices {
			err := <-results
			switch {
			case err != nil:
				errs = append(errs, err)
			case !delivered:
				delivered = true
				verdict <- nil
			}
		}
		if !delivered {
			verdict <- fmt.Errorf("%w: %w", ErrNotDelivered, errors.Join(errs...))
		}
	}()
	select {
	case err := <-verdict:
		return err
	case <-ctx.Done():
		select {
		case err := <-verdict:
			return err
		default:
		}
		cancel(errCanceled)
		return ctx.Err()
	}
}

// Close stops every delivery in flight (each reports OutcomeFailed with
// Reason "closed") and waits for them; a Wake after Close is ErrClosed.
func (w *Waker) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.cancel(ErrClosed)
	w.wg.Wait()
	return nil
}

// deliver sends wk to d until a provider accepts it, the failure is final,
// or dctx ends (expiry, Close, Wake's ctx). It reports every outcome.
func (w *Waker) deliver(dctx context.Context, wk Wakeup, d Device) error {
	base := Outcome{Account: wk.Account, Identity: wk.Identity, CallID: wk.CallID, DeviceID: d.ID, Platform: d.Platform}
	n := w.cfg.Notifiers[d.Platform]
	if n == nil {
		o := base
		o.Kind, o.Reason = OutcomeFailed, "no_notifier"
		w.report(o)
		return ErrNoNotifier
	}
	for attempt := 1; ; attempt++ {
		if err := w.stopped(dctx, base, attempt-1); err != nil {
			return err
		}
		err, cut := w.attempt(dctx, n, d, wk)
		o := base
		o.Attempt = attempt
		if err == nil {
			o.Kind = OutcomeDelivered
			w.report(o)
			return nil
		}
		if err := w.stopped(dctx, base, attempt); err != nil {
			return err
		}
		se := classify(err, cut)
		o.Status, o.Reason = se.Status, se.Reason
		switch se.Failure {
		case FailureDeadToken:
			// The removal must happen even if the wake-up ends meanwhile.
			if err := w.cfg.Registry.Remove(context.WithoutCancel(dctx), d.Account, d.Identity, d.ID); err != nil && !errors.Is(err, ErrDeviceNotFound) {
				w.log.Warn("push: remove dead device", "device", d.ID, "err", err)
			}
			o.Kind = OutcomeDeadTokenRemoved
			w.report(o)
			return se
		case FailurePermanent:
			o.Kind = OutcomeFailed
			w.report(o)
			return se
		}
		delay := se.RetryAfter
		if delay <= 0 {
			delay = w.backoff(attempt)
		}
		if !w.cfg.Clock.Now().Add(delay).Before(wk.ExpiresAt) {
			o.Kind = OutcomeExpired
			w.report(o)
			return fmt.Errorf("%w: %w", ErrExpired, se)
		}
		o.Kind, o.RetryIn = OutcomeRetried, delay
		w.report(o)
		w.sleep(dctx, delay)
	}
}

// attempt makes one send, cut after AttemptTimeout; cut reports whether
// the cut (not the provider) ended it.
func (w *Waker) attempt(dctx context.Context, n Notifier, d Device, wk Wakeup) (err error, cut bool) {
	actx, cancel := context.WithCancelCause(dctx)
	stop := w.cfg.Clock.AfterFunc(w.cfg.AttemptTimeout, func() { cancel(errAttemptTimeout) })
	err = n.Send(actx, d, wk)
	stop()
	cut = errors.Is(context.Cause(actx), errAttemptTimeout)
	cancel(nil)
	return err, cut
}

// stopped reports the end of the delivery if dctx has ended, and returns
// the error deliver returns then (nil while dctx is live).
func (w *Waker) stopped(dctx context.Context, base Outcome, attempt int) error {
	if dctx.Err() == nil {
		return nil
	}
	cause := context.Cause(dctx)
	o := base
	o.Attempt = attempt
	switch {
	case errors.Is(cause, ErrExpired):
		o.Kind, o.Reason = OutcomeExpired, "expired"
	case errors.Is(cause, ErrClosed):
		o.Kind, o.Reason = OutcomeFailed, "closed"
	default:
		o.Kind, o.Reason = OutcomeFailed, "canceled"
	}
	w.report(o)
	return cause
}

// classify turns a Notifier's error into a SendError: a cut attempt or a
// deadline is transient; an error that is not a SendError is permanent.
func classify(err error, cut bool) *SendError {
	var se *SendError
	if errors.As(err, &se) && !(cut && se.Failure == FailurePermanent) {
		return se
	}
	if cut || errors.Is(err, context.DeadlineExceeded) {
		return &SendError{Failure: FailureTransient, Reason: "timeout", Err: err}
	}
	return &SendError{Failure: FailurePermanent, Reason: "error", Err: err}
}

// backoff is the wait after the attempt-th failure: InitialBackoff doubled
// per attempt, capped at MaxBackoff, less a random part of up to half.
func (w *Waker) backoff(attempt int) time.Duration {
	b := w.cfg.InitialBackoff
	for i := 1; i < attempt && b < w.cfg.MaxBackoff; i++ {
		b *= 2 // stops at MaxBackoff: a shift by attempt-1 overflowed into a negative wait
	}
	b = min(b, w.cfg.MaxBackoff)
	if b <= 1 {
		return b
	}
	return b - rand.N(b/2)
}

// sleep waits d on the clock, or until dctx ends.
func (w *Waker) sleep(dctx context.Context, d time.Duration) {
	done := make(chan struct{})
	stop := w.cfg.Clock.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
	case <-dctx.Done():
		stop()
	}
}

func (w *Waker) report(o Outcome) {
	o.At = w.cfg.Clock.Now()
	w.counters.count(o)
	if o.Kind == OutcomeFailed || o.Kind == OutcomeExpired {
		w.log.Warn("push: wake-up", "outcome", o.Kind, "call", o.CallID, "device", o.DeviceID, "platform", o.Platform, "attempt", o.Attempt, "status", o.Status, "reason", o.Reason)
	} else {
		w.log.Debug("push: wake-up", "outcome", o.Kind, "call", o.CallID, "device", o.DeviceID, "platform", o.Platform, "attempt", o.Attempt, "status", o.Status, "reason", o.Reason)
	}
	if w.cfg.OnOutcome != nil {
		w.cfg.OnOutcome(o)
	}
}
