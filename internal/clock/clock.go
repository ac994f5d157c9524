// Package clock holds the real clock that every Switchboard package uses
// when its Config's Clock is nil. Each package defines its own Clock
// interface with the methods it needs (Now, and AfterFunc where it sets
// timers); Real has both.
package clock

import "time"

// Real is the system clock. The zero value is ready to use and safe for
// concurrent use.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// AfterFunc runs f in its own goroutine after d (time.AfterFunc); the
// returned function stops the timer and reports whether it did so before f ran.
func (Real) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	return time.AfterFunc(d, f).Stop
}
