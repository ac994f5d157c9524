package redis

import (
	"context"
	"errors"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// Errors of the package; test with errors.Is.
var (
	// ErrUnavailable: Redis could not be reached, or did not answer within
	// the configured timeouts (refused, reset, timed out, loading, a
	// replica that cannot take writes). Every method that talks to Redis
	// returns an *UnavailableError that matches it; nothing was changed
	// unless a write's answer was lost. The REST API of every package maps
	// it to 503 store_unavailable (its Unavailable method says so), and the
	// same Client recovers by itself once Redis answers again.
	ErrUnavailable = errors.New("redis: unavailable")
	// ErrConflict: an optimistic transaction (Table.Update,
	// Store.UpdateMembership) lost to other writers more often than
	// Config.MaxConflictRetries allows. Nothing was changed. Like
	// ErrUnavailable it is a 503 store_unavailable on the REST API: the
	// request may be retried.
	ErrConflict = errors.New("redis: too many conflicting writers")
	// ErrNoLiveNode: Nodes.Place found no live node to put a room on.
	ErrNoLiveNode = errors.New("redis: no live node")
)

// UnavailableError is an operation that failed because Redis could not be
// reached or did not answer in time. It matches ErrUnavailable, and its
// Unavailable method lets the packages' REST error mappings recognise it
// without importing this package.
type UnavailableError struct {
	// Op is the operation ("rooms.Update", "bus.Publish", ...).
	Op string
	// Err is the client's error.
	Err error
}

func (e *UnavailableError) Error() string {
	return "redis: " + e.Op + ": unavailable: " + e.Err.Error()
}
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unavailable reports true: the store could not be reached.
func (e *UnavailableError) Unavailable() bool { return true }

// conflictError is ErrConflict, recognised by the REST mappings as a 503.
type conflictError struct{ op string }

func (e *conflictError) Error() string        { return "redis: " + e.op + ": " + ErrConflict.Error() }
func (e *conflictError) Is(target error) bool { return target == ErrConflict }
func (e *conflictError) Unavailable() bool    { return true }

// serverDown lists the prefixes of Redis replies that mean "not now" rather
// than "wrong request".
var serverDown = []string{"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS"}

// wrap classifies err from the client: nil stays nil; the caller's own
// cancellation stays itself; a reply error of Redis that means a mistake is
// an internal error; everything else (network, timeouts, the pool, a server
// that is loading or read-only) is an *UnavailableError.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var re goredis.Error
	if errors.As(err, &re) {
		msg := strings.TrimPrefix(re.Error(), "ERR ")
		for _, p := range serverDown {
			if strings.HasPrefix(msg, p) {
				return &UnavailableError{Op: op, Err: err}
			}
		}
		return errors.New("redis: " + op + ": " + err.Error())
	}
	return &UnavailableError{Op: op, Err: err}
}
