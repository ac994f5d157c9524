package calling_test

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// confirmed means both media transports are up, not that packets arrived:
// a callee that answers muted and never sends, and a caller that waits for
// confirmed before sending, are confirmed, and stay up past the media timeout.
func TestConfirmedWithoutPackets(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, func(c *calling.Config) { c.Clock = clk })
	alice, bob := e.phone("alice"), e.phone("bob")
	withMic(t, alice) // published, never written
	withMic(t, bob)
	if err := bob.Mute(rooms.AliasMicrophone, true); err != nil { // answers muted
		t.Fatal(err)
	}
	ctx := ctxT(t, 15*time.Second)
	id, err := alice.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	incoming(t, bob)
	if err := bob.Accept(id, protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	eq(t, "alice", states(t, alice, id, protocol.StateConfirmed), "connecting", "ringing", "accepted", "confirmed")
	eq(t, "bob", states(t, bob, id, protocol.StateConfirmed), "ringing", "accepted", "confirmed")
	clk.Advance(30 * time.Second) // silent for 30 s: longer than the 20 s media timeout
	if s, cause := mustCall(t, e, id).State(); s != protocol.StateConfirmed {
		t.Fatalf("after 30 s of silence: %s %s", s, cause)
	}
}

// A mute request is answered (muted, echoing its id); a stream announced
// muted at join forwards nothing until unmuted; an unknown alias is
// not_published with the id echoed.
func TestMuteReplyAndJoinMuted(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob := e.dial("alice"), e.dial("bob")
	mic := withMic(t, alice)
	if err := alice.Mute(rooms.AliasMicrophone, true); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 15*time.Second)
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sendOpus(sendCtx, mic)
	if _, err := bob.Join(ctx, client.JoinRequest{Room: "quiet"}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Join(ctx, client.JoinRequest{Room: "quiet"}); err != nil {
		t.Fatal(err)
	}
	// Muted from the start: nothing reaches bob while alice sends (a second
	// is 50 packets), so no track even starts.
	select {
	case tr := <-bob.Tracks():
		t.Fatalf("a stream announced muted was forwarded (%s)", tr.Alias)
	case <-time.After(time.Second):
	}
	_ = alice.Send(protocol.Message{Type: protocol.TypeMute, ID: "m1", StreamAlias: rooms.AliasMicrophone, Muted: new(false)})
	if m := waitEvent(t, alice, protocol.TypeMuted, ""); m.ID != "m1" || m.Muted == nil || *m.Muted {
		t.Fatalf("mute reply %+v", m)
	}
	readIntact(t, anyTrack(t, bob), 5)
	_ = alice.Send(protocol.Message{Type: protocol.TypeMute, ID: "m2", StreamAlias: "nope", Muted: new(true)})
	if m := waitEvent(t, alice, protocol.TypeError, ""); m.ID != "m2" || m.Error.Reason != "not_published" {
		t.Fatalf("mute of an unknown alias: %+v", m)
	}
}

// A callee whose only connections are in a room cannot accept, so it is
// not rung: the caller gets busy at once.
func TestCalleeInRoomIsBusy(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.phone("alice")
	g := callGrants
	g.Rooms = []string{"*"}
	bob := e.dialToken(e.token("bob", g))
	ctx := ctxT(t, 10*time.Second)
	if _, err := bob.Join(ctx, client.JoinRequest{Room: "meeting"}); err != nil {
		t.Fatal(err)
	}
	id, err := alice.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "alice", states(t, alice, id, protocol.StateEnded), "connecting", "ended(busy)")
}

// A session with connected members is not idle: the server marks it
// active, so a sweep 9 h later keeps it; once everyone has gone it ends.
func TestLiveSessionIsNotSwept(t *testing.T) {
	clk := newFakeClock()
	mgr, err := rooms.NewManager(rooms.Config{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *calling.Config) { c.Clock = clk; c.Rooms = mgr })
	alice, bob := e.dialToken(e.token("alice", roomGrants)), e.dial("bob")
	ctx := ctxT(t, 10*time.Second)
	for _, c := range []*client.Client{alice, bob} {
		if _, err := c.Join(ctx, client.JoinRequest{Room: "standup"}); err != nil {
			t.Fatal(err)
		}
	}
	sid := rooms.RoomSessionID("standup")
	// Keep the connections on fresh tokens while 9 h pass.
	for elapsed := time.Duration(0); elapsed <= 9*time.Hour; elapsed += time.Hour {
		for i, c := range []*client.Client{alice, bob} {
			tok, _ := e.mint([]string{"alice", "bob"}[i], roomGrants, 2*time.Hour)
			if _, err := c.Refresh(ctx, tok); err != nil {
				t.Fatalf("refresh %d at %v: %v", i, elapsed, err)
			}
		}
		clk.Advance(time.Hour)
	}
	if n, err := mgr.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep ended %d sessions (%v) while two members are connected", n, err)
	}
	if _, err := mgr.Session(ctx, acct, sid); err != nil {
		t.Fatalf("live session gone: %v", err)
	}
	_ = alice.Close()
	_ = bob.Close()
	waitFor(t, func() bool { s, err := mgr.Session(ctx, acct, sid); return err == nil && len(s.Members) == 0 })
	clk.Advance(9 * time.Hour)
	if n, _ := mgr.Sweep(ctx); n != 1 {
		t.Fatalf("sweep ended %d sessions after everyone left, want 1", n)
	}
}

// Every refused request echoes its id, also when a field is unknown.
func TestErrorsEchoTheRequestID(t *testing.T) {
	e := newEnv(t, nil)
	c := rawDialOK(t, e, e.token("alice", roomGrants))
	for _, msg := range []string{
		`{"type":"ping","id":"u1","bogus":1}`,
		`{"type":"join","id":"u1","room":7}`,
		`{"type":"dance","id":"u1"}`,
		`{"type":"answer","id":"u1","sdp":"x"}`,
	} {
		if err := c.Write(ctxT(t, 5*time.Second), websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		m, err := readMsg(t, c)
		if err != nil || m.Type != protocol.TypeError || m.ID != "u1" || m.Error == nil || m.Error.Code >= 500 {
			t.Fatalf("%s: got %+v %v", msg, m, err)
		}
	}
}

// A participant that connects again (a new tab, a reconnect) replaces its
// old connection; the old one leaving must not take the participant out of
// the room its successor is in, nor tell the others it left.
func TestReplacedConnectionLeavesTheParticipantAlone(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxT(t, 10*time.Second)
	part, err := e.rooms.CreateParticipant(ctx, acct, rooms.ParticipantSpec{PublishPermissions: []auth.Media{auth.MediaAudio}})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.issuer.Mint(ctx, auth.TokenRequest{Identity: part.ID, Account: acct, ParticipantID: part.ID,
		Grants: auth.Grants{Rooms: []string{"hall"}, Publish: []auth.Media{auth.MediaAudio}}})
	if err != nil {
		t.Fatal(err)
	}
	watcher := e.dial("watcher")
	if _, err := watcher.Join(ctx, client.JoinRequest{Room: "hall"}); err != nil {
		t.Fatal(err)
	}
	first := e.dialToken(tok)
	if _, err := first.Join(ctx, client.JoinRequest{Room: "hall"}); err != nil {
		t.Fatal(err)
	}
	second := e.dialToken(tok)
	if _, err := second.Join(ctx, client.JoinRequest{Room: "hall"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first.Done():
	case <-ctx.Done():
		t.Fatal("the replaced connection was not closed")
	}
	// The successor is still a member and served: a round trip through its
	// loop after the old connection's exit has run.
	waitFor(t, func() bool {
		s, err := e.rooms.Session(ctx, acct, rooms.RoomSessionID("hall"))
		return err == nil && s.Members[part.ID] != nil
	})
	if _, err := second.Refresh(ctx, tok); err != nil {
		t.Fatalf("successor: %v", err)
	}
	s, err := e.rooms.Session(ctx, acct, rooms.RoomSessionID("hall"))
	if err != nil || s.Members[part.ID] == nil {
		t.Fatalf("participant removed with its replaced connection: %+v %v", s, err)
	}
	for {
		select {
		case m := <-watcher.Events():
			if m.Type == protocol.TypeParticipantLeft && m.ParticipantID == part.ID {
				t.Fatal("the others were told the participant left")
			}
			continue
		default:
		}
		break
	}
}
