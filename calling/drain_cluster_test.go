package calling_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// roomOnA places room on node a and joins bob there (on a) and alice
// through node b (relayed to a), both sending audio.
func roomOnA(t *testing.T, a, b *env, leases *memLeases, room string) (alice, bob *client.Client, toBob *atomic.Int64) {
	t.Helper()
	sid := rooms.RoomSessionID(room)
	if node, _, _ := (memNode{leases, "a"}).Claim(context.Background(), acct, "room:"+sid); node != "a" {
		t.Fatalf("room placed on %q", node)
	}
	alice, bob = b.dial("alice"), a.dial("bob")
	ctx := ctxT(t, time.Minute)
	go sendOpus(ctx, withMic(t, alice))
	go sendOpus(ctx, withMic(t, bob))
	if _, err := bob.Join(ctxT(t, 10*time.Second), client.JoinRequest{Room: room}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Join(ctxT(t, 10*time.Second), client.JoinRequest{Room: room}); err != nil {
		t.Fatal(err)
	}
	return alice, bob, packetCounter(anyTrack(t, bob))
}

// Draining the node a client is connected to while it is relayed to
// another node for a room keeps the relay (and its media) until the room
// ends for it; then it is sent on.
func TestDrainRelayingNodeKeepsRoomRelay(t *testing.T) {
	a, b, leases := newClusterEnvs(t)
	alice, _, toBob := roomOnA(t, a, b, leases, "standup")
	aliceL := logEvents(t, alice)
	idle := b.dial("carol")
	idleL := logEvents(t, idle)

	done := startDrain(t, b, ctxT(t, 30*time.Second), calling.DrainOptions{ReconnectURL: a.wsURL})
	idleL.wait(t, "idle reconnect", 1, isReconnect(a.wsURL))
	loopTurn(t, alice, aliceL, "relay-1") // answered by a, through b's loop
	from := toBob.Load()
	waitFor(t, func() bool { return toBob.Load() >= from+25 }) // alice's audio still reaches bob
	if n := aliceL.count(isType(protocol.TypeReconnect)); n != 0 {
		t.Fatal("a connection relayed for a room was sent away while in it")
	}

	// The room ends on a: alice hears reconnect from b and follows it.
	if err := a.rooms.DeleteSession(ctxT(t, 5*time.Second), acct, rooms.RoomSessionID("standup")); err != nil {
		t.Fatal(err)
	}
	aliceL.wait(t, "alice reconnect", 1, isReconnect(a.wsURL))
	aliceL.wait(t, "alice on a", 1, isType(protocol.TypeStatus))
	if err := drainResult(t, done); err != nil {
		t.Fatalf("Drain of b: %v", err)
	}
}

// Draining the node a room lives on: its participants, also one relayed
// from another node, keep their media; a join relayed there is refused;
// at the deadline everyone is sent on, through the relaying node too.
func TestDrainRoomNodeInCluster(t *testing.T) {
	a, b, leases := newClusterEnvs(t)
	alice, bob, toBob := roomOnA(t, a, b, leases, "standup")
	aliceL, bobL := logEvents(t, alice), logEvents(t, bob)
	dave := b.dial("dave")

	ctx, deadline := context.WithCancel(context.Background())
	defer deadline()
	done := startDrain(t, a, ctx, calling.DrainOptions{ReconnectURL: b.wsURL})
	loopTurn(t, bob, bobL, "room-a-1")
	loopTurn(t, alice, aliceL, "room-a-2")
	from := toBob.Load()
	waitFor(t, func() bool { return toBob.Load() >= from+25 })
	if n := aliceL.count(isType(protocol.TypeReconnect)) + bobL.count(isType(protocol.TypeReconnect)); n != 0 {
		t.Fatal("a participant of the room was sent away while in it")
	}
	if _, err := dave.Join(ctxT(t, 10*time.Second), client.JoinRequest{Room: "standup"}); !isDraining(err) {
		t.Fatalf("a join relayed to the draining node: %v, want error 503 draining", err)
	}

	deadline()
	if err := drainResult(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain of a at its deadline: %v", err)
	}
	for _, l := range []*eventLog{bobL, aliceL} {
		l.wait(t, "reconnect at the deadline", 1, isReconnect(b.wsURL))
		l.wait(t, "connected to b", 1, isType(protocol.TypeStatus))
	}
	if alice.URL() != b.wsURL || bob.URL() != b.wsURL {
		t.Fatalf("alice on %s, bob on %s", alice.URL(), bob.URL())
	}
}

// A call relayed to a draining node, the callee's home, is placed there (not
// refused): here the callee is in a call on it, so it ends busy.
func TestDrainHomeNodeTakesRelayedCall(t *testing.T) {
	a, b, leases := newClusterEnvs(t)
	bob, dan := a.phone("bob"), a.phone("dan")
	waitFor(t, func() bool { return leases.holderOf(acct, "identity:bob") == "a" })
	bobL, danL := logEvents(t, bob), logEvents(t, dan)
	id, err := dan.Call(ctxT(t, 10*time.Second), "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	bobL.wait(t, "bob rings", 1, isType(protocol.TypeIncoming))
	if err := bob.Accept(id, protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	danL.wait(t, "dan confirmed", 1, isState(protocol.StateConfirmed))

	done := startDrain(t, a, ctxT(t, 30*time.Second), calling.DrainOptions{ReconnectURL: b.wsURL})
	carol := b.dialToken(b.token("carol", auth.Grants{Outgoing: true}))
	carolL := logEvents(t, carol)
	if _, err := carol.Call(ctxT(t, 10*time.Second), "bob", protocol.CallOptions{Audio: true}); err != nil {
		t.Fatalf("a call relayed to the draining home of its callee: %v", err)
	}
	if e := carolL.wait(t, "carol's call ends", 1, isState(protocol.StateEnded)); e.Cause != protocol.CauseBusy {
		t.Fatalf("carol's call ended %s, want busy", e.Cause)
	}

	if err := dan.Hangup(id); err != nil {
		t.Fatal(err)
	}
	for _, l := range []*eventLog{bobL, danL} {
		l.wait(t, "reconnect after the call", 1, isReconnect(b.wsURL))
	}
	if err := drainResult(t, done); err != nil {
		t.Fatalf("Drain of a: %v", err)
	}
}
