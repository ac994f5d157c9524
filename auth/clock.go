package auth

import (
	"time"

	"github.com/switchboard-rtc/switchboard/internal/clock"
)

// Clock is the time source of expiry checks, failure windows and token
// timestamps. Every Config of this package that needs time has a Clock
// field; nil there means the real clock. Tests inject one that they move by
// hand. Implementations must be safe for concurrent use.
type Clock interface {
	Now() time.Time
}

// clockOr returns c, or the real clock when c is nil.
func clockOr(c Clock) Clock {
	if c == nil {
		return clock.Real{}
	}
	return c
}
