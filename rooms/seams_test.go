package rooms_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/rooms"
)

// Two Managers over one Store and one Bus behave as two nodes of one
// deployment: a change made through either is seen by the other's
// subscribers, and limits hold across both.
func TestTwoNodesShareStoreAndBus(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, bus := rooms.NewMemoryStore(), rooms.NewMemoryBus()
	a, err := rooms.NewManager(rooms.Config{Store: store, Bus: bus, MaxParticipantsPerSession: 2})
	must(t, err)
	b, err := rooms.NewManager(rooms.Config{Store: store, Bus: bus, MaxParticipantsPerSession: 2})
	must(t, err)
	onB := b.Subscribe(ctx)

	s, err := a.CreateSession(ctx, acct, "")
	must(t, err)
	p1, p2, p3 := mustParticipant(t, a, acct), mustParticipant(t, b, acct), mustParticipant(t, a, acct)
	must(t, a.AddParticipant(ctx, acct, s.ID, p1.ID, nil))
	must(t, b.AddParticipant(ctx, acct, s.ID, p2.ID, nil))
	if err := a.AddParticipant(ctx, acct, s.ID, p3.ID, nil); !errors.Is(err, rooms.ErrSessionFull) {
		t.Fatalf("third member through the other node: %v, want ErrSessionFull", err)
	}
	want := []rooms.EventType{rooms.SessionCreated, rooms.ParticipantAdded, rooms.ParticipantAdded}
	for i, w := range want {
		select {
		case e := <-onB.C:
			if e.Type != w || e.SessionID != s.ID {
				t.Fatalf("event %d on node b: %+v, want %s", i, e, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d (%s) never reached node b", i, w)
		}
	}
	view, err := b.View(ctx, acct, s.ID)
	must(t, err)
	if len(view.Session.Members) != 2 || len(view.Participants) != 2 {
		t.Fatalf("node b sees %d members, %d records", len(view.Session.Members), len(view.Participants))
	}
}

// UpdateMembership changes both records or neither, and names the record
// that is missing.
func TestUpdateMembershipIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	store := rooms.NewMemoryStore()
	m, err := rooms.NewManager(rooms.Config{Store: store})
	must(t, err)
	s, err := m.CreateSession(ctx, acct, "")
	must(t, err)
	p := mustParticipant(t, m, acct)
	refused := errors.New("refused")
	err = store.UpdateMembership(ctx, acct, s.ID, p.ID, func(s *rooms.Session, p *rooms.Participant) error {
		s.Tag, p.Tag = "changed", "changed"
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("err %v", err)
	}
	gs, _ := m.Session(ctx, acct, s.ID)
	gp, _ := m.Participant(ctx, acct, p.ID)
	if gs.Tag != "" || gp.Tag != "" {
		t.Fatalf("a refused update was stored: %q %q", gs.Tag, gp.Tag)
	}
	must(t, store.UpdateMembership(ctx, acct, s.ID, p.ID, func(s *rooms.Session, p *rooms.Participant) error {
		s.Tag, p.Tag = "both", "both"
		return nil
	}))
	gs, _ = m.Session(ctx, acct, s.ID)
	gp, _ = m.Participant(ctx, acct, p.ID)
	if gs.Tag != "both" || gp.Tag != "both" {
		t.Fatalf("update not stored: %q %q", gs.Tag, gp.Tag)
	}
	noop := func(*rooms.Session, *rooms.Participant) error { return nil }
	if err := store.UpdateMembership(ctx, acct, "s-missing", p.ID, noop); !errors.Is(err, rooms.ErrSessionNotFound) {
		t.Fatalf("missing session: %v", err)
	}
	if err := store.UpdateMembership(ctx, acct, s.ID, "p-missing", noop); !errors.Is(err, rooms.ErrParticipantNotFound) {
		t.Fatalf("missing participant: %v", err)
	}
	if err := store.UpdateMembership(ctx, "other", s.ID, p.ID, noop); !errors.Is(err, rooms.ErrNotFound) {
		t.Fatalf("another account: %v", err)
	}
}
