package push

import "time"

// Clock is the time source of the package: CreatedAt stamps, expiries,
// per-attempt deadlines and retry waits. Tests inject one (or run in a
// testing/synctest bubble with the real clock).
type Clock interface {
	Now() time.Time
	// AfterFunc runs f after d; the returned function stops it.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
