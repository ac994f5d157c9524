package clocktest_test

import (
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/clocktest"
)

// Timers fire when Advance reaches them, in time order, exactly at their
// time and not a nanosecond before; a stopped timer never fires.
func TestFake(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := clocktest.New(start)
	var fired []string
	c.AfterFunc(2*time.Second, func() { fired = append(fired, "b") })
	c.AfterFunc(time.Second, func() { fired = append(fired, "a") })
	stop := c.AfterFunc(time.Second, func() { fired = append(fired, "stopped") })
	if !stop() || stop() {
		t.Fatal("stop reports pending only the first time")
	}
	c.Advance(2*time.Second - 1)
	if len(fired) != 1 || fired[0] != "a" {
		t.Fatalf("before 2 s: %v", fired)
	}
	c.Advance(1)
	if len(fired) != 2 || fired[1] != "b" || !c.Now().Equal(start.Add(2*time.Second)) {
		t.Fatalf("at 2 s: %v, now %v", fired, c.Now())
	}
	c.Advance(time.Hour)
	if len(fired) != 2 {
		t.Fatalf("a timer fired twice: %v", fired)
	}
}

// Pending counts the timers that have neither fired nor been stopped.
func TestPending(t *testing.T) {
	c := clocktest.New(time.Unix(0, 0))
	stop := c.AfterFunc(time.Second, func() {})
	c.AfterFunc(2*time.Second, func() {})
	if n := c.Pending(); n != 2 {
		t.Fatalf("pending %d, want 2", n)
	}
	stop()
	if n := c.Pending(); n != 1 {
		t.Fatalf("after a stop: %d, want 1", n)
	}
	c.Advance(2 * time.Second)
	if n := c.Pending(); n != 0 {
		t.Fatalf("after firing: %d, want 0", n)
	}
}
