package calling_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// establish calls bob from alice, both publishing a microphone that sends,
// and returns the call id and the track each receives.
func establish(t *testing.T, e *env, alice, bob *client.Client) (string, *client.RemoteTrack, *client.RemoteTrack) {
	t.Helper()
	aMic, bMic := withMic(t, alice), withMic(t, bob)
	ctx := ctxT(t, 20*time.Second)
	sendCtx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go sendOpus(sendCtx, aMic)
	go sendOpus(sendCtx, bMic)
	id, err := alice.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	incoming(t, bob)
	if err := bob.Accept(id, protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	states(t, alice, id, protocol.StateConfirmed)
	states(t, bob, id, protocol.StateConfirmed)
	atB, atA := anyTrack(t, bob), anyTrack(t, alice)
	readIntact(t, atB, 5)
	readIntact(t, atA, 5)
	return id, atB, atA
}

// silent drains what is in flight, then requires 300 ms (15 packet times) without a packet.
func silent(t *testing.T, tr *client.RemoteTrack) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = tr.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, _, err := tr.ReadRTP(); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("packets keep flowing")
		}
	}
}

func TestCallHoldStopsMediaBothWays(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob := e.phone("alice"), e.phone("bob")
	id, atB, atA := establish(t, e, alice, bob)

	if err := alice.Hold(id, true); err != nil {
		t.Fatal(err)
	}
	local := waitEvent(t, alice, protocol.TypeHoldChanged, "")
	remote := waitEvent(t, bob, protocol.TypeHoldChanged, "")
	if !*local.IsHold || local.IsRemote || !*remote.IsHold || !remote.IsRemote {
		t.Fatalf("hold events: %+v / %+v", local, remote)
	}
	// Held: the forwarded tracks are withdrawn, so the readers end or go silent.
	silent(t, atB)
	silent(t, atA)
	if err := alice.Hold(id, false); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, bob, protocol.TypeHoldChanged, "")
	readIntact(t, anyTrack(t, bob), 5) // resumed (on a fresh m-line)
	readIntact(t, anyTrack(t, alice), 5)
}

func TestCallMuteAtTheSFU(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob := e.phone("alice"), e.phone("bob")
	_, atB, _ := establish(t, e, alice, bob)
	if err := alice.Mute("microphone", true); err != nil {
		t.Fatal(err)
	}
	if m := waitEvent(t, bob, protocol.TypeMuted, ""); !*m.Muted {
		t.Fatalf("muted event %+v", m)
	}
	silent(t, atB)
	_ = alice.Mute("microphone", false)
	readIntact(t, atB, 5)
}

func TestCallDTMF(t *testing.T) {
	hooks := newHookRecorder()
	e := newEnv(t, func(c *calling.Config) { c.Hooks = hooks })
	alice, bob := e.phone("alice"), e.phone("bob")
	id, _, _ := establish(t, e, alice, bob)
	for _, d := range []string{"1", "23", "*#", "ABCD", "0"} {
		if err := alice.SendDTMF(id, d); err != nil {
			t.Fatal(err)
		}
	}
	var atBob, atHook []string
	for len(atBob) < 5 {
		m := waitEvent(t, bob, protocol.TypeDTMF, "")
		if m.From != "alice" || m.CallID != id {
			t.Fatalf("dtmf %+v", m)
		}
		atBob = append(atBob, m.Digits)
	}
	ctx := ctxT(t, 5*time.Second)
	for len(atHook) < 5 {
		select {
		case ev := <-hooks.dtmf:
			atHook = append(atHook, ev.Digits)
		case <-ctx.Done():
			t.Fatalf("hook got %v", atHook)
		}
	}
	eq(t, "bob", atBob, "1", "23", "*#", "ABCD", "0")
	eq(t, "hook", atHook, "1", "23", "*#", "ABCD", "0")
	for _, bad := range []string{"", "E", "12x", "#" + string(make([]byte, 32))} {
		_ = alice.SendDTMF(id, bad)
		if m := waitEvent(t, alice, protocol.TypeError, ""); m.Error.Code != 400 {
			t.Fatalf("digits %q: %+v", bad, m.Error)
		}
	}
}
