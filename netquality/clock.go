package netquality

import "time"

// Clock is the time source of RTPStats, ReportStats (Now) and Monitor.Run
// (Now and AfterFunc). Tests inject one; nil in a Config is the real clock.
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

func clockOr(c Clock) Clock {
	if c == nil {
		return realClock{}
	}
	return c
}
