package push_test

import (
	"maps"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboard-rtc/switchboard/push"
)

// Stats counts every outcome the Waker reports, by kind and platform.
func TestWakerStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wt := newWakerTest(t, push.Config{})
		wt.device(t, "alice", push.APNs, apnsToken(1), dead)
		wt.device(t, "alice", push.FCM, "fcm-perm", permanent)
		wt.device(t, "alice", push.FCM, "fcm-ok", nil)
		if err := wt.w.Wake(ctx, wakeup("alice", 30*time.Second)); err != nil {
			t.Fatalf("Wake: %v", err)
		}
		synctest.Wait()
		if err := wt.w.Wake(ctx, wakeup("nobody", 30*time.Second)); err == nil {
			t.Fatal("woke an identity without devices")
		}
		want := map[push.OutcomeKey]uint64{
			{Kind: push.OutcomeDeadTokenRemoved, Platform: push.APNs}: 1,
			{Kind: push.OutcomeFailed, Platform: push.FCM}:            1,
			{Kind: push.OutcomeDelivered, Platform: push.FCM}:         1,
			{Kind: push.OutcomeFailed}:                                1, // no devices
		}
		got := wt.w.Stats().Outcomes
		if !maps.Equal(got, want) {
			t.Fatalf("outcomes %v, want %v", got, want)
		}
		if n := len(wt.outs.list()); n != 4 {
			t.Fatalf("%d outcomes reported, 4 counted", n)
		}
	})
}
