package rooms_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboard-rtc/switchboard/rooms"
)

// Run sweeps every SweepInterval until its context ends: a room left empty
// is still there at the sweep before DepartureTimeout and gone at the one
// that reaches it. In the synctest bubble the real clock and Run's ticker
// are the bubble's, so the 20 s pass at once.
func TestRunSweeps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		m, err := rooms.NewManager(rooms.Config{}) // defaults: sweeps every 10 s, empty rooms end after 20 s
		must(t, err)
		p := mustParticipant(t, m, "a")
		s, err := m.JoinRoom(ctx, "a", "standup", p.ID)
		must(t, err)
		must(t, m.RemoveParticipant(ctx, "a", s.ID, p.ID))
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()

		time.Sleep(rooms.DefaultDepartureTimeout - time.Nanosecond)
		synctest.Wait()
		if _, err := m.Session(ctx, "a", s.ID); err != nil {
			t.Fatalf("the room went before the departure timeout: %v", err)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if _, err := m.Session(ctx, "a", s.ID); !errors.Is(err, rooms.ErrSessionNotFound) {
			t.Fatalf("the room outlived the departure timeout: %v", err)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
	})
}
