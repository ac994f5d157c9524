// Package clocktest is a clock for tests that moves only when told to: Now
// is where it was set, and AfterFunc callbacks run when Advance passes their
// time. It satisfies every package's Clock interface.
package clocktest

import (
	"slices"
	"sync"
	"time"
)

// Fake is a settable clock. It is safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

type timer struct {
	at      time.Time
	f       func()
	stopped bool
}

// New returns a clock that reads start until advanced.
func New(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the clock's time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc arranges for f to run when Advance reaches d from now. The
// returned function cancels it and reports whether it was still pending.
func (c *Fake) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Pending counts the timers neither fired nor stopped.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}

// Set moves the clock to t (forward or back) as Advance(t.Sub(c.Now())) does.
func (c *Fake) Set(t time.Time) { c.Advance(t.Sub(c.Now())) }

// Advance moves the clock forward by d, then runs, in the caller's
// goroutine and in the order of their times, the callbacks that became due.
// A callback that sets a timer already due runs at the next Advance.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*timer
	pending := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t)
		default:
			pending = append(pending, t)
		}
	}
	clear(c.timers[len(pending):])
	c.timers = pending
	c.mu.Unlock()
	slices.SortStableFunc(due, func(a, b *timer) int { return a.at.Compare(b.at) })
	for _, t := range due {
		t.f()
	}
}
