package calling_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// storeDown is an adapter's error for a store it cannot reach (as
// adapters/redis.UnavailableError): it says so with Unavailable.
type storeDown struct{}

func (storeDown) Error() string     { return "store: connection refused" }
func (storeDown) Unavailable() bool { return true }

// A shared store that cannot be reached is 503 store_unavailable, however
// deeply the package wrapped the error; other errors are not.
func TestStoreUnavailableIs503(t *testing.T) {
	for _, err := range []error{storeDown{}, fmt.Errorf("calling: %w", storeDown{})} {
		status, code, _ := calling.HTTPStatus(err)
		if status != http.StatusServiceUnavailable || code != "store_unavailable" {
			t.Errorf("%v: %d %s, want 503 store_unavailable", err, status, code)
		}
	}
	err := errors.New("something else")
	status, code, _ := calling.HTTPStatus(err)
	if status == http.StatusServiceUnavailable || code == "store_unavailable" {
		t.Errorf("a plain error mapped to %d %s", status, code)
	}
}

// Signaling with the rooms store down: join answers error 503
// store_unavailable and the connection stays; once the store is back the
// same connection joins, and the store holds that participant alone.
func TestJoinStoreUnavailable(t *testing.T) {
	f := newFlakyEnv(t, 10*time.Millisecond)
	ctx := ctxT(t, 20*time.Second)
	alice := f.dial("alice")

	f.store.down.Store(true)
	_, err := alice.Join(ctx, client.JoinRequest{Room: "hall"})
	wantStoreUnavailable(t, "join", err)
	if parts, members := f.stored(t, "hall"); len(parts) != 0 || len(members) != 0 {
		t.Fatalf("a join refused with the store down wrote %d participants, members %v", len(parts), members)
	}

	f.store.down.Store(false)
	joined, err := alice.Join(ctx, client.JoinRequest{Room: "hall"})
	if err != nil {
		t.Fatalf("join on the same connection after the store came back: %v", err)
	}
	parts, members := f.stored(t, "hall")
	if len(parts) != 1 || parts[0].ID != joined.ParticipantID || !slices.Equal(members, []string{joined.ParticipantID}) {
		t.Fatalf("store after the join: %d participants, members %v; want only %s", len(parts), members, joined.ParticipantID)
	}
}

// The store goes away in the middle of a join, after a write whose answer
// was lost (the participant's creation, or its membership): the join
// answers 503, and what it wrote is taken back by the server on its own
// once the store is back, without the client doing anything; then the
// same connection joins.
func TestJoinStoreLostMidway(t *testing.T) {
	for _, tc := range []struct {
		name        string
		lose        func(*flakyStore)
		wantMembers int // left behind while the store is away
	}{
		{"participant created", func(s *flakyStore) { s.loseCreate.Store(true) }, 0},
		{"membership written", func(s *flakyStore) { s.loseNext.Store(true) }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) { joinStoreLostMidway(t, tc.lose, tc.wantMembers) })
	}
}

func joinStoreLostMidway(t *testing.T, lose func(*flakyStore), wantMembers int) {
	f := newFlakyEnv(t, 10*time.Millisecond)
	ctx := ctxT(t, 20*time.Second)
	alice := f.dial("alice")

	lose(f.store)
	_, err := alice.Join(ctx, client.JoinRequest{Room: "hall"})
	wantStoreUnavailable(t, "join", err)
	// Half-written while the store is away: this is what must go.
	if parts, members := f.stored(t, "hall"); len(parts) != 1 || len(members) != wantMembers {
		t.Fatalf("the lost write left %d participants and members %v; the test expects 1 and %d", len(parts), members, wantMembers)
	}
	if n := f.srv.PendingStoreWrites(); n == 0 {
		t.Fatal("no store write waits for the store to come back")
	}

	f.store.down.Store(false)
	waitFor(t, func() bool {
		parts, members := f.stored(t, "hall")
		return len(parts) == 0 && len(members) == 0 && f.srv.PendingStoreWrites() == 0
	})

	joined, err := alice.Join(ctx, client.JoinRequest{Room: "hall"})
	if err != nil {
		t.Fatalf("join after the store came back: %v", err)
	}
	parts, members := f.stored(t, "hall")
	if len(parts) != 1 || parts[0].ID != joined.ParticipantID || !slices.Equal(members, []string{joined.ParticipantID}) {
		t.Fatalf("store after the join: %d participants, members %v; want only %s", len(parts), members, joined.ParticipantID)
	}
}

// restParticipantLostJoin connects a participant the REST API created and
// has its join of hall fail after the membership was written (its answer
// lost); the store is back when it returns.
func restParticipantLostJoin(t *testing.T, f *flakyEnv) (*client.Client, *rooms.Participant) {
	t.Helper()
	ctx := ctxT(t, 20*time.Second)
	part, err := f.rooms.CreateParticipant(ctx, acct, rooms.ParticipantSpec{PublishPermissions: []auth.Media{auth.MediaAudio}})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := f.issuer.Mint(ctx, auth.TokenRequest{Identity: part.ID, Account: acct, ParticipantID: part.ID,
		Grants: auth.Grants{Rooms: []string{"hall"}, Publish: []auth.Media{auth.MediaAudio}}})
	if err != nil {
		t.Fatal(err)
	}
	c := f.dialToken(tok)
	f.store.loseNext.Store(true)
	_, err = c.Join(ctx, client.JoinRequest{Room: "hall"})
	wantStoreUnavailable(t, "join", err)
	if _, members := f.stored(t, "hall"); !slices.Equal(members, []string{part.ID}) {
		t.Fatalf("members %v; the test expects the lost write to have joined %s", members, part.ID)
	}
	f.store.down.Store(false)
	return c, part
}

// A participant the REST API created whose join failed after its
// membership was written: once the store is back the server takes the
// membership back (the participant itself stays: the REST API owns it).
func TestLostJoinOfRestParticipantTakenBack(t *testing.T) {
	f := newFlakyEnv(t, 10*time.Millisecond)
	_, part := restParticipantLostJoin(t, f)
	waitFor(t, func() bool {
		_, members := f.stored(t, "hall")
		return len(members) == 0 && f.srv.PendingStoreWrites() == 0
	})
	p, err := f.rooms.Participant(context.Background(), acct, part.ID)
	if err != nil || len(p.Sessions) != 0 {
		t.Fatalf("participant after the undo: %+v, %v; want it kept, in no session", p, err)
	}
}

// A participant the REST API created rejoins before the server's retry
// has run: the join runs the waiting undo first, so the undo cannot take
// the participant out of the room it has just joined.
func TestRejoinRunsWaitingUndoFirst(t *testing.T) {
	f := newFlakyEnv(t, time.Hour) // no sweep during the test: only the join runs the undo
	ctx := ctxT(t, 20*time.Second)
	c, part := restParticipantLostJoin(t, f)

	if _, err := c.Join(ctx, client.JoinRequest{Room: "hall"}); err != nil {
		t.Fatalf("rejoin: %v", err)
	}
	if n := f.srv.PendingStoreWrites(); n != 0 {
		t.Fatalf("%d store writes still wait after the rejoin: one would take the participant out later", n)
	}
	if _, members := f.stored(t, "hall"); !slices.Equal(members, []string{part.ID}) {
		t.Fatalf("members after the rejoin %v, want [%s]", members, part.ID)
	}
	p, err := f.rooms.Participant(ctx, acct, part.ID)
	if err != nil || !slices.Equal(p.Sessions, []string{rooms.RoomSessionID("hall")}) {
		t.Fatalf("participant after the rejoin: %+v, %v", p, err)
	}
}

// A connection that leaves while the store is away: its participant is
// taken out once the store is back.
func TestLeaveStoreUnavailable(t *testing.T) {
	f := newFlakyEnv(t, 10*time.Millisecond)
	ctx := ctxT(t, 20*time.Second)
	alice := f.dial("alice")
	if _, err := alice.Join(ctx, client.JoinRequest{Room: "hall"}); err != nil {
		t.Fatal(err)
	}
	f.store.down.Store(true)
	_ = alice.Close()
	waitFor(t, func() bool { return f.srv.PendingStoreWrites() > 0 })
	if parts, members := f.stored(t, "hall"); len(parts) != 1 || len(members) != 1 {
		t.Fatalf("with the store down the departure should wait: %d participants, members %v", len(parts), members)
	}
	f.store.down.Store(false)
	waitFor(t, func() bool {
		parts, members := f.stored(t, "hall")
		return len(parts) == 0 && len(members) == 0 && f.srv.PendingStoreWrites() == 0
	})
}

// Placing a call with the busy marks unreachable is 503 store_unavailable
// and the connection stays; a claim that fails after the caller's was made
// leaves no busy mark behind; once the store is back the same connection
// calls.
func TestCallPresenceUnavailable(t *testing.T) {
	f := newFlakyEnv(t, 10*time.Millisecond)
	ctx := ctxT(t, 20*time.Second)
	alice, bob := f.phone("alice"), f.phone("bob")

	f.presence.down.Store(true)
	_, err := alice.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	wantStoreUnavailable(t, "call", err)
	f.presence.down.Store(false)

	f.presence.failFor.Store("bob") // the caller's claim succeeds, the callee's fails
	_, err = alice.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	wantStoreUnavailable(t, "call (callee's claim)", err)
	if id, err := f.presence.inner.Holder(ctx, acct, "alice"); err != nil || id != "" {
		t.Fatalf("after a refused call alice is busy with %q (%v)", id, err)
	}
	f.presence.failFor.Store("")

	id, err := alice.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatalf("call on the same connection after the store came back: %v", err)
	}
	if in := incoming(t, bob); in.CallID != id {
		t.Fatalf("bob rang for %q, want %q", in.CallID, id)
	}
}

// With the replay cache unreachable a token cannot be checked: connecting
// is refused with HTTP 503 store_unavailable before the upgrade (not a
// 4403 that would send the client for a new token), and the same token
// connects once the cache is back; a refresh on an open connection is
// error 503 and the connection keeps its token.
func TestConnectReplayCacheUnavailable(t *testing.T) {
	f := newFlakyEnv(t, 10*time.Millisecond)
	ctx := ctxT(t, 20*time.Second)
	tok := f.token("alice", roomGrants)

	f.replay.down.Store(true)
	dialRefused(t, f.env, tok, http.StatusServiceUnavailable, "store_unavailable")
	f.replay.down.Store(false)
	alice := f.dialToken(tok)

	f.replay.down.Store(true)
	_, err := alice.Refresh(ctx, f.token("alice", roomGrants))
	wantStoreUnavailable(t, "refresh", err)
	f.replay.down.Store(false)
	if _, err := alice.Refresh(ctx, f.token("alice", roomGrants)); err != nil {
		t.Fatalf("refresh on the same connection after the cache came back: %v", err)
	}
}
