package calling_test

import (
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// A callee connected without the incoming grant: the call fails forbidden.
func TestCallForbidden(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.phone("alice")
	e.dialToken(e.token("bob", auth.Grants{Outgoing: true})) // bob is here, but may not receive calls
	id, _ := alice.Call(ctxT(t, 5*time.Second), "bob", protocol.CallOptions{Audio: true})
	eq(t, "alice", states(t, alice, id, protocol.StateFailed), "connecting", "failed(forbidden)")
}

// Answered, but the callee never completes the media negotiation: after
// MediaTimeout (20 s, on the fake clock) the call fails with timeout.
func TestCallMediaTimeout(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, func(c *calling.Config) { c.Clock = clk })
	alice := e.phone("alice")
	bob := rawDialOK(t, e, e.token("bob", callGrants)) // answers the call, never the offer
	ctx := ctxT(t, 10*time.Second)
	id, _ := alice.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	for {
		m, err := readMsg(t, bob)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == protocol.TypeIncoming {
			break
		}
	}
	_ = bob.Write(ctx, websocket.MessageText, []byte(`{"type":"accept","id":"1","callId":"`+id+`","options":{"audio":true}}`))
	states(t, alice, id, protocol.StateAccepted)
	clk.Advance(20*time.Second - time.Millisecond)
	if s, _ := mustCall(t, e, id).State(); s != protocol.StateAccepted {
		t.Fatalf("before the media timeout: %s", s)
	}
	clk.Advance(time.Millisecond)
	eq(t, "alice", states(t, alice, id, protocol.StateFailed), "failed(timeout)")
}

// The callee's media connection closes while its signaling stays: the call
// fails with media_failed, and both signaling connections survive.
func TestCallMediaFailed(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob := e.phone("alice"), e.phone("bob")
	id, _, _ := establish(t, e, alice, bob)
	_ = bob.PeerConnection().Close()
	eq(t, "alice", states(t, alice, id, protocol.StateFailed), "failed(media_failed)")
	// Still connected: alice can call again.
	id2, err := alice.Call(ctxT(t, 5*time.Second), "bob", protocol.CallOptions{Audio: true})
	if err != nil || id2 == "" {
		t.Fatalf("call after media failure: %v", err)
	}
	if in := incoming(t, bob); in.CallID != id2 {
		t.Fatalf("incoming %+v", in)
	}
}

// Closing the server fails every call in progress with server_shutdown.
func TestCallServerShutdown(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob := e.phone("alice"), e.phone("bob")
	id, _, _ := establish(t, e, alice, bob)
	done := make(chan error, 1)
	go func() { done <- e.srv.Close() }()
	eq(t, "alice", states(t, alice, id, protocol.StateFailed), "failed(server_shutdown)")
	eq(t, "bob", states(t, bob, id, protocol.StateFailed), "failed(server_shutdown)")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
