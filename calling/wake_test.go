package calling_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// blockingWaker stands in for a provider that never answers (a 429 for
// the whole ring timeout): Wake returns only when its ctx ends.
type blockingWaker struct {
	called chan calling.Wakeup
	ended  chan error // Wake's ctx error, once it returned
}

func newBlockingWaker() *blockingWaker {
	return &blockingWaker{called: make(chan calling.Wakeup, 1), ended: make(chan error, 1)}
}

func (b *blockingWaker) Wake(ctx context.Context, w calling.Wakeup) error {
	b.called <- w
	<-ctx.Done()
	b.ended <- ctx.Err()
	return ctx.Err()
}

func (b *blockingWaker) wakeup(t *testing.T) calling.Wakeup {
	t.Helper()
	select {
	case w := <-b.called:
		return w
	case <-time.After(10 * time.Second):
		t.Fatal("Wake was not called")
	}
	return calling.Wakeup{}
}

// waitWakeEnded waits for Wake to return after its ctx ended.
func (b *blockingWaker) waitWakeEnded(t *testing.T) {
	t.Helper()
	select {
	case err := <-b.ended:
		if err == nil {
			t.Fatal("Wake returned with a live ctx")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wake's ctx is still live after the call ended")
	}
}

var _ calling.Waker = (*blockingWaker)(nil)

// A Waker that blocks does not hold the call: the caller hangs up while
// Wake runs, the call ends canceled at once, and Wake's ctx ends.
func TestWakeBlockingCallerHangsUp(t *testing.T) {
	w := newBlockingWaker()
	hooks := newHookRecorder()
	e := newEnv(t, func(c *calling.Config) { c.Waker = w; c.Hooks = hooks })
	alice := e.phone("alice")
	id, err := alice.Call(ctxT(t, 5*time.Second), "bob", protocol.CallOptions{Audio: true, Video: true})
	if err != nil {
		t.Fatal(err)
	}
	wk := w.wakeup(t)
	if wk.CallID != id || wk.Identity != "bob" || wk.From != "alice" || !wk.HasVideo || wk.ExpiresAt.IsZero() {
		t.Fatalf("wakeup %+v", wk)
	}
	if err := alice.Hangup(id); err != nil {
		t.Fatal(err)
	}
	eq(t, "alice", states(t, alice, id, protocol.StateEnded), "connecting", "ended(canceled)")
	w.waitWakeEnded(t)
	c, ok := e.srv.Call(acct, id)
	if !ok {
		t.Fatal("call forgotten")
	}
	if st, cause := c.State(); st != protocol.StateEnded || cause != protocol.CauseCanceled {
		t.Fatalf("state %s(%s)", st, cause)
	}
	var hooked []string
	for len(hooked) < 2 {
		select {
		case ev := <-hooks.states:
			hooked = append(hooked, string(ev.State)+"("+string(ev.Cause)+")")
		case <-time.After(10 * time.Second):
			t.Fatalf("hooks so far %v", hooked)
		}
	}
	eq(t, "hooks", hooked, "connecting()", "ended(canceled)")
}

// The same through the server's API (REST DELETE /calls/{id}), and a call
// placed without video says so in the Wakeup.
func TestWakeBlockingServerHangsUp(t *testing.T) {
	w := newBlockingWaker()
	e := newEnv(t, func(c *calling.Config) { c.Waker = w })
	c, err := e.srv.PlaceCall(ctxT(t, 5*time.Second), acct, "ivr", "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	if wk := w.wakeup(t); wk.HasVideo || wk.CallID != c.ID {
		t.Fatalf("wakeup %+v", wk)
	}
	if st, _ := c.State(); st != protocol.StateConnecting {
		t.Fatalf("while Wake runs: %s", st)
	}
	if err := c.Hangup(); err != nil {
		t.Fatal(err)
	}
	if st, cause := c.State(); st != protocol.StateEnded || cause != protocol.CauseCanceled {
		t.Fatalf("after hang-up: %s(%s)", st, cause)
	}
	w.waitWakeEnded(t)
}

// A callee connection that arrives before Wake returns (the push came
// faster than the provider's answer) rings at once; the call goes on as
// usual, and Wake's ctx ends with the call.
func TestWakeCalleeConnectsWhileWaking(t *testing.T) {
	w := newBlockingWaker()
	e := newEnv(t, func(c *calling.Config) { c.Waker = w })
	alice := e.phone("alice")
	ctx := ctxT(t, 10*time.Second)
	id, err := alice.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	w.wakeup(t)
	bob := e.phone("bob")
	if in := incoming(t, bob); in.CallID != id {
		t.Fatalf("incoming %+v", in)
	}
	if err := bob.Accept(id, protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	eq(t, "alice", states(t, alice, id, protocol.StateAccepted), "connecting", "ringing", "accepted")
	_ = alice.Hangup(id)
	states(t, alice, id, protocol.StateEnded)
	w.waitWakeEnded(t)
}

// Closing the server while Wake runs fails the call server_shutdown and
// ends Wake's ctx; Close waits for Wake to return.
func TestWakeServerClose(t *testing.T) {
	w := newBlockingWaker()
	e := newEnv(t, func(c *calling.Config) { c.Waker = w })
	c, err := e.srv.PlaceCall(ctxT(t, 5*time.Second), acct, "ivr", "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	w.wakeup(t)
	e.close()
	w.waitWakeEnded(t)
	if st, cause := c.State(); st != protocol.StateFailed || cause != protocol.CauseServerShutdown {
		t.Fatalf("after Close: %s(%s)", st, cause)
	}
}

// waitState polls c until it reaches st.
func waitState(t *testing.T, c *calling.Call, st protocol.CallState) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, cause := c.State()
		if got == st {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s(%s), want %s", got, cause, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A Waker that never returns does not hold the call (and the callee's busy
// mark) past the ring timeout: the call fails unreachable at the
// wake-up's expiry, Wake's ctx ends, and the callee can be called again.
func TestWakeHangingWakerEndsAtExpiry(t *testing.T) {
	clk := newFakeClock()
	w := newBlockingWaker()
	e := newEnv(t, func(c *calling.Config) { c.Clock = clk; c.Waker = w; c.RingTimeout = 30 * time.Second })
	c, err := e.srv.PlaceCall(ctxT(t, 5*time.Second), acct, "ivr", "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	if wk := w.wakeup(t); !wk.ExpiresAt.Equal(clk.Now().Add(30 * time.Second)) {
		t.Fatalf("wake-up expires at %v, want 30 s from the call's start", wk.ExpiresAt)
	}
	clk.Advance(30*time.Second - time.Millisecond)
	if st, _ := c.State(); st != protocol.StateConnecting {
		t.Fatalf("1 ms before the expiry: %s", st)
	}
	clk.Advance(time.Millisecond)
	if st, cause := c.State(); st != protocol.StateFailed || cause != protocol.CauseUnreachable {
		t.Fatalf("at the expiry: %s(%s), want failed(unreachable)", st, cause)
	}
	w.waitWakeEnded(t)
	again, err := e.srv.PlaceCall(ctxT(t, 5*time.Second), acct, "ivr", "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	if st, cause := again.State(); st != protocol.StateConnecting {
		t.Fatalf("the next call to bob: %s(%s), want connecting (bob is not busy)", st, cause)
	}
	w.wakeup(t)
	_ = again.Hangup()
	w.waitWakeEnded(t)
}

// slowWaker's Wake succeeds when the test releases it.
type slowWaker struct {
	called  chan calling.Wakeup
	release chan struct{}
}

func (s *slowWaker) Wake(ctx context.Context, w calling.Wakeup) error {
	s.called <- w
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// A wake-up that took most of the ring timeout rings only for what is left
// of it: the call stops ringing at the wake-up's expiry (the instant the
// push told the phone), not a whole ring timeout after the provider
// answered.
func TestWakeSlowProviderRingsUntilExpiry(t *testing.T) {
	clk := newFakeClock()
	w := &slowWaker{called: make(chan calling.Wakeup, 1), release: make(chan struct{})}
	e := newEnv(t, func(c *calling.Config) { c.Clock = clk; c.Waker = w; c.RingTimeout = 30 * time.Second })
	c, err := e.srv.PlaceCall(ctxT(t, 5*time.Second), acct, "ivr", "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	var wk calling.Wakeup
	select {
	case wk = <-w.called:
	case <-time.After(10 * time.Second):
		t.Fatal("Wake was not called")
	}
	clk.Advance(25 * time.Second)
	close(w.release)
	waitState(t, c, protocol.StateRinging)
	clk.Set(wk.ExpiresAt.Add(-time.Millisecond))
	if st, _ := c.State(); st != protocol.StateRinging {
		t.Fatalf("1 ms before the expiry: %s", st)
	}
	clk.Set(wk.ExpiresAt)
	if st, cause := c.State(); st != protocol.StateEnded || cause != protocol.CauseNoAnswer {
		t.Fatalf("at the wake-up's expiry: %s(%s), want ended(no_answer)", st, cause)
	}
}
