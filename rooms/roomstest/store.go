package roomstest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/rooms"
)

// NewStore returns a constructor of handles on one fresh, empty store: each
// call returns a rooms.Store over the same data, as the nodes of one
// deployment see it (a process-local store returns itself every time; a
// shared one returns a new client). It cleans up after itself with
// t.Cleanup.
type NewStore func(t *testing.T) func() rooms.Store

// StoreSuite tests a rooms.Store against the contract the Manager relies on:
// every field survives a round trip; values are copies; ErrExists and
// ErrNotFound (ErrSessionNotFound first, then ErrParticipantNotFound, from
// UpdateMembership); records are scoped to their account; Update and
// UpdateMembership are atomic under concurrent writers from several
// handles, so no update is lost, no limit is overshot and a session's
// member list and its participants' session lists never disagree.
func StoreSuite(t *testing.T, newStore NewStore) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newStore(t)()) })
	t.Run("CreateExists", func(t *testing.T) { testCreateExists(t, newStore(t)()) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)()) })
	t.Run("Copies", func(t *testing.T) { testCopies(t, newStore(t)()) })
	t.Run("UpdateStoresOrRefuses", func(t *testing.T) { testUpdate(t, newStore(t)()) })
	t.Run("DeleteAndList", func(t *testing.T) { testDeleteAndList(t, newStore(t)()) })
	t.Run("UpdateMembershipAllOrNothing", func(t *testing.T) { testMembershipAllOrNothing(t, newStore(t)()) })
	t.Run("ConcurrentUpdatesLoseNothing", func(t *testing.T) { testConcurrentUpdates(t, newStore(t)) })
	t.Run("ConcurrentMembership", func(t *testing.T) { testConcurrentMembership(t, newStore(t)) })
	t.Run("LimitsAcrossNodes", func(t *testing.T) { testLimitsAcrossNodes(t, newStore(t)) })
	t.Run("ManagerInvariants", func(t *testing.T) { testManagerInvariants(t, newStore(t)) })
}

const (
	acctA = "acct-a"
	acctB = "acct-b"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newSession(account, id string) *rooms.Session {
	now := time.Now()
	return &rooms.Session{ID: id, Account: account, Members: map[string]*rooms.Member{}, CreatedAt: now, LastActivity: now, EmptySince: now}
}

func newParticipant(account, id string) *rooms.Participant {
	return &rooms.Participant{ID: id, Account: account, CreatedAt: time.Now()}
}

// filled returns a record with every exported field set.
func filled[T any](account, id string) T {
	var v T
	rv := reflect.ValueOf(&v).Elem()
	fill(rv, "f")
	rv.Elem().FieldByName("Account").SetString(account)
	rv.Elem().FieldByName("ID").SetString(id)
	return v
}

func testRoundTrip(t *testing.T, st rooms.Store) {
	ctx := context.Background()
	s := filled[*rooms.Session](acctA, "s-full")
	p := filled[*rooms.Participant](acctA, "p-full")
	must(t, st.Sessions().Create(ctx, s))
	must(t, st.Participants().Create(ctx, p))
	gs, err := st.Sessions().Get(ctx, acctA, "s-full")
	must(t, err)
	if d := diff(s, gs); d != "" {
		t.Fatalf("session after a round trip: %s", d)
	}
	gp, err := st.Participants().Get(ctx, acctA, "p-full")
	must(t, err)
	if d := diff(p, gp); d != "" {
		t.Fatalf("participant after a round trip: %s", d)
	}
	// Through Update and UpdateMembership too.
	us, err := st.Sessions().Update(ctx, acctA, "s-full", func(*rooms.Session) error { return nil })
	must(t, err)
	if d := diff(s, us); d != "" {
		t.Fatalf("session returned by Update: %s", d)
	}
	must(t, st.UpdateMembership(ctx, acctA, "s-full", "p-full", func(ms *rooms.Session, mp *rooms.Participant) error {
		if d := diff(s, ms); d != "" {
			return fmt.Errorf("session given to UpdateMembership: %s", d)
		}
		if d := diff(p, mp); d != "" {
			return fmt.Errorf("participant given to UpdateMembership: %s", d)
		}
		return nil
	}))
	list, err := st.Sessions().List(ctx, acctA)
	must(t, err)
	if len(list) != 1 || diff(s, list[0]) != "" {
		t.Fatalf("List returned %d sessions, want the one stored", len(list))
	}
	// A session with no members reads back with an empty, usable map.
	must(t, st.Sessions().Create(ctx, &rooms.Session{ID: "s-empty", Account: acctA}))
	e, err := st.Sessions().Get(ctx, acctA, "s-empty")
	must(t, err)
	if e.Members == nil {
		t.Fatal("a session without members reads back with a nil Members map")
	}
}

func testCreateExists(t *testing.T, st rooms.Store) {
	ctx := context.Background()
	must(t, st.Sessions().Create(ctx, newSession(acctA, "s-1")))
	if err := st.Sessions().Create(ctx, newSession(acctA, "s-1")); !errors.Is(err, rooms.ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	must(t, st.Sessions().Create(ctx, newSession(acctB, "s-1"))) // the same id in another account
	must(t, st.Participants().Create(ctx, newParticipant(acctA, "p-1")))
	if err := st.Participants().Create(ctx, newParticipant(acctA, "p-1")); !errors.Is(err, rooms.ErrExists) {
		t.Fatalf("second participant Create: %v, want ErrExists", err)
	}
	// Create of one id from many goroutines: exactly one wins.
	var wins sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for range 8 {
		wins.Go(func() {
			err := st.Sessions().Create(ctx, newSession(acctA, "s-race"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case !errors.Is(err, rooms.ErrExists):
				t.Errorf("racing Create: %v", err)
			}
		})
	}
	wins.Wait()
	if created != 1 {
		t.Fatalf("%d racing Creates of one id succeeded, want 1", created)
	}
}

func testNotFound(t *testing.T, st rooms.Store) {
	ctx := context.Background()
	must(t, st.Sessions().Create(ctx, newSession(acctA, "s-1")))
	must(t, st.Participants().Create(ctx, newParticipant(acctA, "p-1")))
	noop := func(*rooms.Session) error { return nil }
	for _, tc := range []struct{ account, id string }{{acctA, "s-missing"}, {acctB, "s-1"}} {
		if _, err := st.Sessions().Get(ctx, tc.account, tc.id); !errors.Is(err, rooms.ErrNotFound) {
			t.Errorf("Get %s/%s: %v, want ErrNotFound", tc.account, tc.id, err)
		}
		if _, err := st.Sessions().Update(ctx, tc.account, tc.id, noop); !errors.Is(err, rooms.ErrNotFound) {
			t.Errorf("Update %s/%s: %v, want ErrNotFound", tc.account, tc.id, err)
		}
		if err := st.Sessions().Delete(ctx, tc.account, tc.id); !errors.Is(err, rooms.ErrNotFound) {
			t.Errorf("Delete %s/%s: %v, want ErrNotFound", tc.account, tc.id, err)
		}
	}
	if _, err := st.Participants().Get(ctx, acctB, "p-1"); !errors.Is(err, rooms.ErrNotFound) {
		t.Errorf("another account's participant: %v, want ErrNotFound", err)
	}
	// Nothing was created by the misses.
	if l, _ := st.Sessions().List(ctx, acctB); len(l) != 0 {
		t.Fatalf("account b has %d sessions after misses", len(l))
	}
}

func testCopies(t *testing.T, st rooms.Store) {
	ctx := context.Background()
	s := newSession(acctA, "s-1")
	s.Members["p-x"] = &rooms.Member{JoinedAt: time.Now(), Subscriptions: rooms.Everyone("s-1")}
	must(t, st.Sessions().Create(ctx, s))
	s.Tag = "changed after Create"
	s.Members["p-x"].Subscriptions.SessionID = "changed"
	g, err := st.Sessions().Get(ctx, acctA, "s-1")
	must(t, err)
	if g.Tag != "" || g.Members["p-x"].Subscriptions.SessionID != "s-1" {
		t.Fatal("changing the value given to Create changed the stored record")
	}
	g.Tag = "changed after Get"
	delete(g.Members, "p-x")
	u, err := st.Sessions().Update(ctx, acctA, "s-1", func(s *rooms.Session) error { return nil })
	must(t, err)
	if u.Tag != "" || len(u.Members) != 1 {
		t.Fatal("changing the value returned by Get changed the stored record")
	}
	u.Tag = "changed after Update"
	again, err := st.Sessions().Get(ctx, acctA, "s-1")
	must(t, err)
	if again.Tag != "" {
		t.Fatal("changing the value returned by Update changed the stored record")
	}
}

func testUpdate(t *testing.T, st rooms.Store) {
	ctx := context.Background()
	must(t, st.Participants().Create(ctx, newParticipant(acctA, "p-1")))
	got, err := st.Participants().Update(ctx, acctA, "p-1", func(p *rooms.Participant) error {
		p.Tag = "updated"
		p.Sessions = append(p.Sessions, "s-9")
		return nil
	})
	must(t, err)
	if got.Tag != "updated" || !slices.Equal(got.Sessions, []string{"s-9"}) {
		t.Fatalf("Update returned %+v", got)
	}
	refused := errors.New("refused by fn")
	if _, err := st.Participants().Update(ctx, acctA, "p-1", func(p *rooms.Participant) error {
		p.Tag = "must not be stored"
		return refused
	}); !errors.Is(err, refused) {
		t.Fatalf("Update whose fn fails: %v, want fn's error", err)
	}
	g, err := st.Participants().Get(ctx, acctA, "p-1")
	must(t, err)
	if g.Tag != "updated" || !slices.Equal(g.Sessions, []string{"s-9"}) {
		t.Fatalf("after a refused Update the record is %+v", g)
	}
}

func testDeleteAndList(t *testing.T, st rooms.Store) {
	ctx := context.Background()
	for _, id := range []string{"s-1", "s-2", "s-3"} {
		must(t, st.Sessions().Create(ctx, newSession(acctA, id)))
	}
	must(t, st.Sessions().Create(ctx, newSession(acctB, "s-1")))
	ids := func(account string) []string {
		l, err := st.Sessions().List(ctx, account)
		must(t, err)
		var out []string
		for _, s := range l {
			out = append(out, s.Account+"/"+s.ID)
		}
		slices.Sort(out)
		return out
	}
	if got := ids(acctA); !slices.Equal(got, []string{"acct-a/s-1", "acct-a/s-2", "acct-a/s-3"}) {
		t.Fatalf("List(a) = %v", got)
	}
	if got := ids(""); len(got) != 4 {
		t.Fatalf("List(\"\") = %v, want all 4", got)
	}
	must(t, st.Sessions().Delete(ctx, acctA, "s-2"))
	if err := st.Sessions().Delete(ctx, acctA, "s-2"); !errors.Is(err, rooms.ErrNotFound) {
		t.Fatalf("second Delete: %v, want ErrNotFound", err)
	}
	if _, err := st.Sessions().Get(ctx, acctA, "s-2"); !errors.Is(err, rooms.ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	if got := ids(acctA); !slices.Equal(got, []string{"acct-a/s-1", "acct-a/s-3"}) {
		t.Fatalf("List(a) after Delete = %v", got)
	}
	if got := ids(acctB); !slices.Equal(got, []string{"acct-b/s-1"}) {
		t.Fatalf("List(b) = %v: deleting a's s-2 touched b", got)
	}
	// A deleted id can be created again.
	must(t, st.Sessions().Create(ctx, newSession(acctA, "s-2")))
}

func testMembershipAllOrNothing(t *testing.T, st rooms.Store) {
	ctx := context.Background()
	must(t, st.Sessions().Create(ctx, newSession(acctA, "s-1")))
	must(t, st.Participants().Create(ctx, newParticipant(acctA, "p-1")))
	refused := errors.New("refused")
	err := st.UpdateMembership(ctx, acctA, "s-1", "p-1", func(s *rooms.Session, p *rooms.Participant) error {
		s.Tag, p.Tag = "changed", "changed"
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("refused UpdateMembership: %v", err)
	}
	gs, _ := st.Sessions().Get(ctx, acctA, "s-1")
	gp, _ := st.Participants().Get(ctx, acctA, "p-1")
	if gs.Tag != "" || gp.Tag != "" {
		t.Fatalf("a refused update was stored: %q %q", gs.Tag, gp.Tag)
	}
	must(t, st.UpdateMembership(ctx, acctA, "s-1", "p-1", func(s *rooms.Session, p *rooms.Participant) error {
		s.Tag, p.Tag = "both", "both"
		return nil
	}))
	gs, _ = st.Sessions().Get(ctx, acctA, "s-1")
	gp, _ = st.Participants().Get(ctx, acctA, "p-1")
	if gs.Tag != "both" || gp.Tag != "both" {
		t.Fatalf("update not stored: %q %q", gs.Tag, gp.Tag)
	}
	ran := false
	noop := func(*rooms.Session, *rooms.Participant) error { ran = true; return nil }
	if err := st.UpdateMembership(ctx, acctA, "s-missing", "p-missing", noop); !errors.Is(err, rooms.ErrSessionNotFound) {
		t.Fatalf("both missing: %v, want ErrSessionNotFound (the session is checked first)", err)
	}
	if err := st.UpdateMembership(ctx, acctA, "s-1", "p-missing", noop); !errors.Is(err, rooms.ErrParticipantNotFound) {
		t.Fatalf("missing participant: %v", err)
	}
	if err := st.UpdateMembership(ctx, acctB, "s-1", "p-1", noop); !errors.Is(err, rooms.ErrNotFound) {
		t.Fatalf("another account: %v", err)
	}
	if ran {
		t.Fatal("fn ran although a record was missing")
	}
}

// Many writers, through several handles, each add distinct entries to one
// record: with a non-atomic Update some would be lost.
func testConcurrentUpdates(t *testing.T, handle func() rooms.Store) {
	ctx := context.Background()
	must(t, handle().Participants().Create(ctx, newParticipant(acctA, "p-hot")))
	const writers, each = 8, 15
	var wg sync.WaitGroup
	for w := range writers {
		st := handle()
		wg.Go(func() {
			for i := range each {
				if _, err := st.Participants().Update(ctx, acctA, "p-hot", func(p *rooms.Participant) error {
					p.Sessions = append(p.Sessions, fmt.Sprintf("s-%d-%d", w, i))
					return nil
				}); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	p, err := handle().Participants().Get(ctx, acctA, "p-hot")
	must(t, err)
	if len(p.Sessions) != writers*each {
		t.Fatalf("%d entries after %d atomic appends: updates were lost", len(p.Sessions), writers*each)
	}
	slices.Sort(p.Sessions)
	if len(slices.Compact(p.Sessions)) != writers*each {
		t.Fatal("an entry was written twice")
	}
}

// UpdateMembership on one session from many writers, racing plain Updates
// of the same session: every member lands, each participant lists the
// session, and the plain updates are not lost either.
func testConcurrentMembership(t *testing.T, handle func() rooms.Store) {
	ctx := context.Background()
	must(t, handle().Sessions().Create(ctx, newSession(acctA, "s-hot")))
	const joiners, each, touches = 6, 6, 20
	for w := range joiners {
		for i := range each {
			must(t, handle().Participants().Create(ctx, newParticipant(acctA, fmt.Sprintf("p-%d-%d", w, i))))
		}
	}
	var wg sync.WaitGroup
	for w := range joiners {
		st := handle()
		wg.Go(func() {
			for i := range each {
				pid := fmt.Sprintf("p-%d-%d", w, i)
				if err := st.UpdateMembership(ctx, acctA, "s-hot", pid, func(s *rooms.Session, p *rooms.Participant) error {
					s.Members[pid] = &rooms.Member{JoinedAt: time.Now(), Subscriptions: rooms.Everyone("s-hot")}
					p.Sessions = append(p.Sessions, "s-hot")
					return nil
				}); err != nil {
					t.Errorf("joining %s: %v", pid, err)
				}
			}
		})
	}
	st := handle()
	wg.Go(func() {
		for range touches {
			if _, err := st.Sessions().Update(ctx, acctA, "s-hot", func(s *rooms.Session) error {
				s.Tag += "x"
				return nil
			}); err != nil {
				t.Errorf("touching: %v", err)
			}
		}
	})
	wg.Wait()
	s, err := handle().Sessions().Get(ctx, acctA, "s-hot")
	must(t, err)
	if len(s.Members) != joiners*each || len(s.Tag) != touches {
		t.Fatalf("%d members (want %d), %d touches (want %d): updates were lost", len(s.Members), joiners*each, len(s.Tag), touches)
	}
	for pid := range s.Members {
		p, err := handle().Participants().Get(ctx, acctA, pid)
		must(t, err)
		if !slices.Equal(p.Sessions, []string{"s-hot"}) {
			t.Fatalf("%s lists sessions %v, want [s-hot]", pid, p.Sessions)
		}
	}
}

// Two Managers over two handles of one store, as two nodes: the limits
// hold at the limit and one past it under concurrent joins.
func testLimitsAcrossNodes(t *testing.T, handle func() rooms.Store) {
	ctx := context.Background()
	const maxPer, maxSessions = 5, 2
	mk := func() *rooms.Manager {
		m, err := rooms.NewManager(rooms.Config{Store: handle(), MaxParticipantsPerSession: maxPer, MaxSessionsPerParticipant: maxSessions})
		must(t, err)
		return m
	}
	nodes := []*rooms.Manager{mk(), mk()}
	s, err := nodes[0].CreateSession(ctx, acctA, "")
	must(t, err)
	var pids []string
	for range maxPer * 2 {
		p, err := nodes[1].CreateParticipant(ctx, acctA, rooms.ParticipantSpec{})
		must(t, err)
		pids = append(pids, p.ID)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	joined, full := 0, 0
	for i, pid := range pids {
		wg.Go(func() {
			err := nodes[i%2].AddParticipant(ctx, acctA, s.ID, pid, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				joined++
			case errors.Is(err, rooms.ErrSessionFull):
				full++
			default:
				t.Errorf("join: %v", err)
			}
		})
	}
	wg.Wait()
	if joined != maxPer || full != len(pids)-maxPer {
		t.Fatalf("%d joined and %d refused as full, want %d and %d", joined, full, maxPer, len(pids)-maxPer)
	}
	v, err := nodes[0].View(ctx, acctA, s.ID)
	must(t, err)
	if len(v.Session.Members) != maxPer {
		t.Fatalf("the session has %d members, limit %d", len(v.Session.Members), maxPer)
	}

	// One participant into many sessions at once: MaxSessionsPerParticipant holds.
	p, err := nodes[0].CreateParticipant(ctx, acctA, rooms.ParticipantSpec{})
	must(t, err)
	var sids []string
	for range maxSessions * 3 {
		s, err := nodes[1].CreateSession(ctx, acctA, "")
		must(t, err)
		sids = append(sids, s.ID)
	}
	joined, tooMany := 0, 0
	for i, sid := range sids {
		wg.Go(func() {
			err := nodes[i%2].AddParticipant(ctx, acctA, sid, p.ID, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				joined++
			case errors.Is(err, rooms.ErrTooManySessions):
				tooMany++
			default:
				t.Errorf("join: %v", err)
			}
		})
	}
	wg.Wait()
	got, err := nodes[1].Participant(ctx, acctA, p.ID)
	must(t, err)
	if joined != maxSessions || len(got.Sessions) != maxSessions {
		t.Fatalf("joined %d sessions (the record lists %d), limit %d", joined, len(got.Sessions), maxSessions)
	}
}
