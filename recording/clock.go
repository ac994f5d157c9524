package recording

import "time"

// Clock is the time source of the package: packet arrival times, flush
// timers, recording times and the retention sweeper. Tests inject one;
// nil means the real clock.
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
