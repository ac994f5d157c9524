package push_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/push"
)

// manualClock is a Clock that moves only when the test says.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// pending counts timers not yet fired or stopped.
func (c *manualClock) pending() int {
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

// advance moves the clock by d and fires the timers that fall due.
func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for _, t := range c.timers {
		if !t.stopped && !t.at.After(c.now) {
			t.stopped = true
			due = append(due, t.f)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Every wait of the Waker goes through its Clock: a retry happens only when
// the injected clock passes the backoff, and the expiry is the clock's.
func TestWakerUsesItsClock(t *testing.T) {
	clock := &manualClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	sends := make(chan int, 10)
	n := 0
	notifier := push.NotifierFunc(func(ctx context.Context, d push.Device, w push.Wakeup) error {
		n++
		sends <- n
		if n == 1 {
			return transient
		}
		return nil
	})
	reg := push.NewMemoryRegistry(push.MemoryRegistryConfig{Clock: clock})
	register(t, reg, "acct", "alice", push.FCM, "tok")
	w := mustNew(t, push.Config{Registry: reg, Clock: clock, InitialBackoff: time.Second, MaxBackoff: time.Second,
		Notifiers: map[push.Platform]push.Notifier{push.FCM: notifier}})
	done := make(chan error, 1)
	go func() {
		done <- w.Wake(ctx, push.Wakeup{Account: "acct", Identity: "alice", CallID: "c", ExpiresAt: clock.Now().Add(30 * time.Second)})
	}()
	<-sends
	waitFor(t, "the expiry and the retry timers", func() bool { return clock.pending() == 2 })
	select {
	case <-sends:
		t.Fatal("retried before the clock moved")
	case <-time.After(20 * time.Millisecond):
	}
	clock.advance(999 * time.Millisecond) // the jittered backoff is at least 500 ms, at most 1 s
	clock.advance(time.Millisecond)
	if got := <-sends; got != 2 {
		t.Fatalf("send %d", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// The expiry is the clock's too: past it, nothing is sent.
	clock.advance(time.Minute)
	if err := w.Wake(ctx, push.Wakeup{Account: "acct", Identity: "alice", CallID: "c2", ExpiresAt: clock.Now().Add(-time.Second)}); err == nil {
		t.Fatal("an expired wake-up was sent")
	}
}
