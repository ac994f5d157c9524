package push

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// Sentinel errors. Functions of this package wrap them, so callers test
// them with errors.Is; HTTPStatus maps them for the REST API.
var (
	// ErrDeviceNotFound is a device id that does not exist for the caller
	// (another identity's or another account's devices are not found either).
	ErrDeviceNotFound = errors.New("push: device not found")
	// ErrTooManyDevices is a registration past the per-identity device limit.
	ErrTooManyDevices = errors.New("push: too many devices for this identity")
	// ErrRegistryFull is a registration past the registry's total bound.
	ErrRegistryFull = errors.New("push: device registry full")
	// ErrInvalidPlatform is a platform other than "apns" or "fcm".
	ErrInvalidPlatform = errors.New("push: invalid platform")
	// ErrInvalidPushToken is a push token that breaks its platform's rule
	// (APNs: 64 to 200 hex digits; FCM: 1 to 4096 printable ASCII characters).
	ErrInvalidPushToken = errors.New("push: invalid push token")
	// ErrInvalidApp is an app id that is not 1 to 255 of ASCII letters,
	// digits and . _ -.
	ErrInvalidApp = errors.New("push: invalid app id")
	// ErrInvalidDevice is a device without an account or an identity.
	ErrInvalidDevice = errors.New("push: device needs an account and an identity")
	// ErrInvalidWakeup is a wake-up without an account, an identity or a call id.
	ErrInvalidWakeup = errors.New("push: wake-up needs an account, an identity and a call id")
	// ErrNoDevices is a wake-up for an identity that has no registered device.
	ErrNoDevices = errors.New("push: no registered device")
	// ErrExpired is a wake-up whose expiry has passed.
	ErrExpired = errors.New("push: wake-up expired")
	// ErrNotDelivered is a wake-up that no provider accepted for any device.
	ErrNotDelivered = errors.New("push: wake-up not delivered to any device")
	// ErrNoNotifier is a device whose platform (or app) has no Notifier.
	ErrNoNotifier = errors.New("push: no notifier for this device")
	// ErrClosed is a Wake on a closed Waker, or a delivery cut by Close.
	ErrClosed = errors.New("push: waker closed")

	// ErrDeadToken, ErrTransient and ErrPermanent match a *SendError of that
	// Failure with errors.Is.
	ErrDeadToken = errors.New("push: dead push token")
	ErrTransient = errors.New("push: transient provider failure")
	ErrPermanent = errors.New("push: permanent provider failure")
)

// Failure says what a failed send means for the device and for a retry.
type Failure int

// The kinds of failure. The zero value is FailurePermanent, so an error
// that says nothing is not retried and does not remove the device.
const (
	// FailurePermanent: the provider refused the message for a reason a
	// retry will not fix (bad configuration, a payload it rejects).
	FailurePermanent Failure = iota
	// FailureTransient: the provider is overloaded or unavailable (HTTP 429,
	// 5xx, a network error, a cut attempt); retrying later may succeed.
	FailureTransient
	// FailureDeadToken: the token will never work again (the app was
	// uninstalled, the token is malformed or not for this app); the device
	// is removed from the registry.
	FailureDeadToken
)

func (f Failure) String() string {
	switch f {
	case FailureTransient:
		return "transient"
	case FailureDeadToken:
		return "dead_token"
	}
	return "permanent"
}

// SendError is what a Notifier returns when a provider did not accept a
// wake-up: the Failure decides what the Waker does next. It never holds
// credentials or the push token.
type SendError struct {
	Failure Failure
	// RetryAfter is the provider's requested wait before a retry of a
	// transient failure (0: use the Waker's backoff).
	RetryAfter time.Duration
	// Status is the provider's HTTP status (0 when there was no answer).
	Status int
	// Reason is the provider's reason string ("Unregistered",
	// "UNREGISTERED", "TooManyRequests", ...), or "timeout" / "network".
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *SendError) Error() string {
	s := "push: " + e.Failure.String()
	if e.Status != 0 {
		s += fmt.Sprintf(" (status %d)", e.Status)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *SendError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrDeadToken), ErrTransient and ErrPermanent
// match a SendError of that Failure.
func (e *SendError) Is(target error) bool {
	switch target {
	case ErrDeadToken:
		return e.Failure == FailureDeadToken
	case ErrTransient:
		return e.Failure == FailureTransient
	case ErrPermanent:
		return e.Failure == FailurePermanent
	}
	return false
}

// HTTPStatus maps an error of this package to an HTTP status and the
// stable code and message of the REST error body {"code","message"}; the
// errors of package auth (the admission refusals) as auth.HTTPStatus does.
// A Registry that cannot reach its store (an error with Unavailable() bool
// true, as adapters/redis returns) is 503 store_unavailable. Anything else is 500 internal_error without details.
func HTTPStatus(err error) (status int, code, message string) {
	switch {
	case httpx.Unavailable(err):
		return httpx.StoreUnavailable()
	case errors.Is(err, ErrDeviceNotFound):
		return http.StatusNotFound, "device_not_found", "no such device"
	case errors.Is(err, ErrTooManyDevices):
		return http.StatusConflict, "too_many_devices", "this identity has as many devices as allowed; delete one first"
	case errors.Is(err, ErrRegistryFull):
		return http.StatusServiceUnavailable, "registry_full", "the device registry is full"
	case errors.Is(err, ErrInvalidPlatform):
		return http.StatusBadRequest, "validation_failed", "platform: oneof=apns fcm"
	case errors.Is(err, ErrInvalidPushToken):
		return http.StatusBadRequest, "invalid_push_token", strings.TrimPrefix(err.Error(), "push: ")
	case errors.Is(err, ErrInvalidApp):
		return http.StatusBadRequest, "invalid_app", "app must be 1 to 255 of ASCII letters, digits and . _ -"
	}
	var he *httpx.Error
	if errors.As(err, &he) {
		return he.Status, he.Code, he.Message
	}
	return auth.HTTPStatus(err)
}
