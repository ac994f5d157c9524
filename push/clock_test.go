package push_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/clocktest"
	"github.com/switchboard-rtc/switchboard/push"
)

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
	clock := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
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
	waitFor(t, "the expiry and the retry timers", func() bool { return clock.Pending() == 2 })
	select {
	case <-sends:
		t.Fatal("retried before the clock moved")
	case <-time.After(20 * time.Millisecond):
	}
	clock.Advance(999 * time.Millisecond) // the jittered backoff is at least 500 ms, at most 1 s
	clock.Advance(time.Millisecond)
	if got := <-sends; got != 2 {
		t.Fatalf("send %d", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// The expiry is the clock's too: past it, nothing is sent.
	clock.Advance(time.Minute)
	if err := w.Wake(ctx, push.Wakeup{Account: "acct", Identity: "alice", CallID: "c2", ExpiresAt: clock.Now().Add(-time.Second)}); err == nil {
		t.Fatal("an expired wake-up was sent")
	}
}
