package calling_test

import (
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// Two Servers sharing one Presence behave as two nodes: an identity in a
// call on one node is busy for a call placed on the other, and free again
// once its call ends.
func TestBusyAcrossNodes(t *testing.T) {
	shared := calling.NewMemoryPresence()
	nodeA := newEnv(t, func(c *calling.Config) { c.Presence = shared })
	nodeB := newEnv(t, func(c *calling.Config) { c.Presence = shared })
	alice, bob := nodeA.phone("alice"), nodeA.phone("bob")
	carol := nodeB.phone("carol")
	ctx := ctxT(t, 20*time.Second)

	id, err := alice.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	incoming(t, bob)
	if err := bob.Accept(id, protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	states(t, alice, id, protocol.StateAccepted)

	busy, err := carol.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "carol on node b", states(t, carol, busy, protocol.StateEnded), "connecting", "ended(busy)")

	if err := alice.Hangup(id); err != nil {
		t.Fatal(err)
	}
	states(t, bob, id, protocol.StateEnded)
	// Bob is free again; he has no connection on node b and node b has no
	// Waker, so the call fails as callee_offline rather than busy.
	again, err := carol.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "carol again", states(t, carol, again, protocol.StateFailed), "connecting", "failed(callee_offline)")
}
