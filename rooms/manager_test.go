package rooms_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/internal/clocktest"
	"github.com/switchboard-rtc/switchboard/rooms"
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustParticipant(t testing.TB, m *rooms.Manager, acct string) *rooms.Participant {
	t.Helper()
	p, err := m.CreateParticipant(context.Background(), acct, rooms.ParticipantSpec{PublishPermissions: []auth.Media{auth.MediaAudio, auth.MediaVideo}})
	must(t, err)
	return p
}

func TestLimits(t *testing.T) {
	ctx := context.Background()
	t.Run("participants per session: 20 fit, the 21st is refused", func(t *testing.T) {
		m, _ := rooms.NewManager(rooms.Config{})
		s, _ := m.CreateSession(ctx, "a", "")
		for i := range 20 {
			must(t, m.AddParticipant(ctx, "a", s.ID, mustParticipant(t, m, "a").ID, nil))
			_ = i
		}
		p21 := mustParticipant(t, m, "a")
		if err := m.AddParticipant(ctx, "a", s.ID, p21.ID, nil); !errors.Is(err, rooms.ErrSessionFull) {
			t.Fatalf("21st: %v", err)
		}
		// The refused participant is not left half-joined.
		p, _ := m.Participant(ctx, "a", p21.ID)
		if len(p.Sessions) != 0 {
			t.Fatalf("refused participant's sessions: %v", p.Sessions)
		}
	})
	t.Run("configurable participant limit", func(t *testing.T) {
		m, _ := rooms.NewManager(rooms.Config{MaxParticipantsPerSession: 3})
		s, _ := m.CreateSession(ctx, "a", "")
		for range 3 {
			must(t, m.AddParticipant(ctx, "a", s.ID, mustParticipant(t, m, "a").ID, nil))
		}
		if err := m.AddParticipant(ctx, "a", s.ID, mustParticipant(t, m, "a").ID, nil); !errors.Is(err, rooms.ErrSessionFull) {
			t.Fatalf("4th of 3: %v", err)
		}
	})
	t.Run("one session per participant by default", func(t *testing.T) {
		m, _ := rooms.NewManager(rooms.Config{})
		p := mustParticipant(t, m, "a")
		s1, _ := m.CreateSession(ctx, "a", "")
		s2, _ := m.CreateSession(ctx, "a", "")
		must(t, m.AddParticipant(ctx, "a", s1.ID, p.ID, nil))
		must(t, m.AddParticipant(ctx, "a", s1.ID, p.ID, rooms.Everyone(s1.ID))) // re-adding is not a second session
		if err := m.AddParticipant(ctx, "a", s2.ID, p.ID, nil); !errors.Is(err, rooms.ErrTooManySessions) {
			t.Fatalf("second session: %v", err)
		}
		m2, _ := rooms.NewManager(rooms.Config{MaxSessionsPerParticipant: 2})
		p = mustParticipant(t, m2, "a")
		for range 2 {
			s, _ := m2.CreateSession(ctx, "a", "")
			must(t, m2.AddParticipant(ctx, "a", s.ID, p.ID, nil))
		}
		s3, _ := m2.CreateSession(ctx, "a", "")
		if err := m2.AddParticipant(ctx, "a", s3.ID, p.ID, nil); !errors.Is(err, rooms.ErrTooManySessions) {
			t.Fatalf("third of 2: %v", err)
		}
	})
	t.Run("tag: 50 characters fit, 51 do not", func(t *testing.T) {
		m, _ := rooms.NewManager(rooms.Config{})
		if _, err := m.CreateSession(ctx, "a", strings.Repeat("ü", 50)); err != nil {
			t.Fatal(err)
		}
		if _, err := m.CreateSession(ctx, "a", strings.Repeat("ü", 51)); !errors.Is(err, rooms.ErrInvalid) {
			t.Fatalf("51: %v", err)
		}
		if _, err := m.CreateParticipant(ctx, "a", rooms.ParticipantSpec{Tag: strings.Repeat("x", 51)}); !errors.Is(err, rooms.ErrInvalid) {
			t.Fatalf("participant tag 51: %v", err)
		}
	})
	t.Run("streams: publish permissions and count", func(t *testing.T) {
		m, _ := rooms.NewManager(rooms.Config{MaxStreams: 2})
		p, _ := m.CreateParticipant(ctx, "a", rooms.ParticipantSpec{PublishPermissions: []auth.Media{auth.MediaAudio}})
		if err := m.SetStreams(ctx, "a", p.ID, []rooms.Stream{cam}); !errors.Is(err, rooms.ErrPublishNotPermitted) {
			t.Fatalf("video without permission: %v", err)
		}
		must(t, m.SetStreams(ctx, "a", p.ID, []rooms.Stream{mic, {Alias: "mic2", Media: auth.MediaAudio}}))
		if err := m.SetStreams(ctx, "a", p.ID, []rooms.Stream{mic, {Alias: "m2", Media: auth.MediaAudio}, {Alias: "m3", Media: auth.MediaAudio}}); !errors.Is(err, rooms.ErrInvalid) {
			t.Fatalf("3 of 2 streams: %v", err)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	ctx := context.Background()
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	m, _ := rooms.NewManager(rooms.Config{Clock: c})
	s, _ := m.CreateSession(ctx, "a", "")
	p := mustParticipant(t, m, "a")
	must(t, m.AddParticipant(ctx, "a", s.ID, p.ID, nil))
	c.Advance(9*time.Hour - time.Second)
	if n, _ := m.Sweep(ctx); n != 0 {
		t.Fatal("swept before 9 h idle")
	}
	must(t, m.Touch(ctx, "a", s.ID))
	c.Advance(9*time.Hour - time.Second)
	if n, _ := m.Sweep(ctx); n != 0 {
		t.Fatal("Touch did not postpone expiry")
	}
	c.Advance(time.Second)
	if n, _ := m.Sweep(ctx); n != 1 {
		t.Fatal("not swept at 9 h idle")
	}
	if _, err := m.Session(ctx, "a", s.ID); !errors.Is(err, rooms.ErrSessionNotFound) {
		t.Fatalf("session after sweep: %v", err)
	}
	if pp, _ := m.Participant(ctx, "a", p.ID); len(pp.Sessions) != 0 {
		t.Fatalf("participant still lists the swept session: %v", pp.Sessions)
	}
}

func TestRoomsByName(t *testing.T) {
	ctx := context.Background()
	c := clocktest.New(time.Unix(1_800_000_000, 0))
	m, _ := rooms.NewManager(rooms.Config{Clock: c, DepartureTimeout: 20 * time.Second})
	a, b := mustParticipant(t, m, "acct"), mustParticipant(t, m, "acct")
	s1, err := m.JoinRoom(ctx, "acct", "standup", a.ID)
	must(t, err)
	s2, err := m.JoinRoom(ctx, "acct", "standup", b.ID)
	must(t, err)
	if s1.ID != s2.ID || len(s2.Members) != 2 || s2.Room != "standup" {
		t.Fatalf("rooms: %+v %+v", s1, s2)
	}
	must(t, m.SetStreams(ctx, "acct", a.ID, []rooms.Stream{mic}))
	if got, _ := m.Receives(ctx, "acct", s1.ID, b.ID); len(got) != 1 {
		t.Fatalf("b receives %v from the room", got)
	}
	// Another account's room of the same name is a different room.
	x := mustParticipant(t, m, "other")
	sx, _ := m.JoinRoom(ctx, "other", "standup", x.ID)
	if len(sx.Members) != 1 {
		t.Fatalf("accounts share a room: %v", sx.MemberIDs())
	}
	must(t, m.RemoveParticipant(ctx, "acct", s1.ID, a.ID))
	must(t, m.RemoveParticipant(ctx, "acct", s1.ID, b.ID))
	c.Advance(19 * time.Second)
	if n, _ := m.Sweep(ctx); n != 0 {
		t.Fatal("empty room removed before the departure timeout")
	}
	c.Advance(time.Second)
	if n, _ := m.Sweep(ctx); n != 1 {
		t.Fatal("empty room not removed at the departure timeout")
	}
	if _, err := m.Session(ctx, "acct", s1.ID); !errors.Is(err, rooms.ErrNotFound) {
		t.Fatal("room survived")
	}
}

func TestAccountIsolation(t *testing.T) {
	ctx := context.Background()
	m, _ := rooms.NewManager(rooms.Config{})
	s, _ := m.CreateSession(ctx, "mine", "")
	p := mustParticipant(t, m, "mine")
	if _, err := m.Session(ctx, "theirs", s.ID); !errors.Is(err, rooms.ErrSessionNotFound) {
		t.Fatalf("other account sees session: %v", err)
	}
	if err := m.AddParticipant(ctx, "theirs", s.ID, p.ID, nil); !errors.Is(err, rooms.ErrNotFound) {
		t.Fatalf("other account adds: %v", err)
	}
	theirP := mustParticipant(t, m, "theirs")
	if err := m.AddParticipant(ctx, "mine", s.ID, theirP.ID, nil); !errors.Is(err, rooms.ErrParticipantNotFound) {
		t.Fatalf("foreign participant added: %v", err)
	}
	if err := m.DeleteSession(ctx, "theirs", s.ID); !errors.Is(err, rooms.ErrNotFound) {
		t.Fatalf("other account deletes: %v", err)
	}
}

func TestEvents(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, _ := rooms.NewManager(rooms.Config{EventBuffer: 4})
	ev := m.Subscribe(ctx)
	s, _ := m.CreateSession(ctx, "a", "")
	p := mustParticipant(t, m, "a")
	must(t, m.AddParticipant(ctx, "a", s.ID, p.ID, nil))
	must(t, m.SetSubscriptions(ctx, "a", s.ID, p.ID, nil))
	must(t, m.SetStreams(ctx, "a", p.ID, []rooms.Stream{mic}))
	want := []rooms.EventType{rooms.SessionCreated, rooms.ParticipantAdded, rooms.SubscriptionsChanged, rooms.StreamsChanged}
	for i, w := range want {
		e := <-ev.C
		if e.Type != w || e.SessionID != s.ID || (i > 0 && e.ParticipantID != p.ID) {
			t.Fatalf("event %d = %+v, want %s", i, e, w)
		}
	}

	// A consumer that stops reading is dropped; the manager is not stalled.
	slow := m.Subscribe(ctx)
	for range 5 { // buffer 4: the 5th overflows
		must(t, m.SetSubscriptions(ctx, "a", s.ID, p.ID, nil))
	}
	n := 0
	for range slow.C {
		n++
	}
	if n != 4 || !errors.Is(slow.Err(), rooms.ErrSlowConsumer) {
		t.Fatalf("slow consumer got %d events, err %v", n, slow.Err())
	}
	// ev kept pace? It was not read either: it is dropped too, but the
	// manager keeps working.
	must(t, m.RemoveParticipant(ctx, "a", s.ID, p.ID))

	// Cancelling the context ends a subscription cleanly.
	ctx2, cancel2 := context.WithCancel(context.Background())
	ev2 := m.Subscribe(ctx2)
	cancel2()
	for range ev2.C {
	}
	if ev2.Err() != nil {
		t.Fatalf("err after cancel: %v", ev2.Err())
	}
}

// A caller may choose the new participant's id (to take back a creation
// whose answer it never got); a taken or malformed one is refused.
func TestCreateParticipantWithID(t *testing.T) {
	m, _ := rooms.NewManager(rooms.Config{})
	ctx := context.Background()
	id := rooms.NewParticipantID()
	p, err := m.CreateParticipant(ctx, "acct", rooms.ParticipantSpec{ID: id})
	if err != nil || p.ID != id {
		t.Fatalf("create with id %s: %+v, %v", id, p, err)
	}
	if _, err := m.CreateParticipant(ctx, "acct", rooms.ParticipantSpec{ID: id}); !errors.Is(err, rooms.ErrExists) {
		t.Fatalf("a taken id: %v, want ErrExists", err)
	}
	for _, bad := range []string{"has space", "é", strings.Repeat("x", 65), "a/b"} {
		if _, err := m.CreateParticipant(ctx, "acct", rooms.ParticipantSpec{ID: bad}); !errors.Is(err, rooms.ErrInvalid) {
			t.Errorf("id %q: %v, want ErrInvalid", bad, err)
		}
	}
	if p, err := m.CreateParticipant(ctx, "acct", rooms.ParticipantSpec{}); err != nil || !strings.HasPrefix(p.ID, "p-") || p.ID == id {
		t.Fatalf("create without id: %+v, %v", p, err)
	}
}
