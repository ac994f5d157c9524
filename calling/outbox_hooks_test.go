package calling_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// gateHooks blocks CallStateChanged for the calls block says, until
// released, and records every event it got, in order per call.
type gateHooks struct {
	calling.NopHooks
	release chan struct{}
	block   func(calling.CallEvent) bool
	got     chan calling.CallEvent
}

func newGateHooks(block func(calling.CallEvent) bool) *gateHooks {
	return &gateHooks{release: make(chan struct{}), block: block, got: make(chan calling.CallEvent, 10_000)}
}

func (h *gateHooks) CallStateChanged(ctx context.Context, e calling.CallEvent) {
	if h.block(e) {
		select {
		case <-h.release:
		case <-ctx.Done():
			return
		}
	}
	h.got <- e
}

func (h *gateHooks) next(t *testing.T) calling.CallEvent {
	t.Helper()
	select {
	case e := <-h.got:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no hook call within 10 s")
		return calling.CallEvent{}
	}
}

// placeOffline places a call to an identity nobody is connected as: it
// fails at once (callee_offline), raising two events, connecting and failed.
func placeOffline(t *testing.T, e *env, n int) string {
	t.Helper()
	c, err := e.srv.PlaceCall(context.Background(), acct, "app", fmt.Sprintf("nobody-%04d", n), protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// A hook that blocks neither stalls signaling (calls are placed and end
// while it is blocked) nor loses events: 1,200 events wait (the old queue
// held 1,024 and dropped the rest) and all arrive, in order per call.
func TestSlowHookBlocksNothingAndLosesNothing(t *testing.T) {
	const calls = 600
	hooks := newGateHooks(func(calling.CallEvent) bool { return true })
	e := newEnv(t, func(c *calling.Config) { c.Hooks = hooks })
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range calls {
			placeOffline(t, e, i)
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("placing calls blocked on the hook")
	}
	close(hooks.release)
	states := map[string][]protocol.CallState{}
	for range 2 * calls {
		ev := hooks.next(t)
		states[ev.CallID] = append(states[ev.CallID], ev.State)
	}
	if len(states) != calls {
		t.Fatalf("%d calls seen by the hook, want %d", len(states), calls)
	}
	for id, s := range states {
		if len(s) != 2 || s[0] != protocol.StateConnecting || s[1] != protocol.StateFailed {
			t.Fatalf("call %s: %v", id, s)
		}
	}
	if n := e.srv.DroppedHookEvents(); n != 0 {
		t.Fatalf("%d dropped", n)
	}
}

// A hook blocked on one call's event does not delay another call's events.
func TestSlowHookForOneCallDoesNotDelayAnother(t *testing.T) {
	hooks := newGateHooks(func(e calling.CallEvent) bool { return e.To == "nobody-b" })
	defer close(hooks.release)
	e := newEnv(t, func(c *calling.Config) { c.Hooks = hooks })
	placeOfflineID(t, e, "nobody-b")
	other := placeOfflineID(t, e, "nobody-c")
	for range 2 {
		if ev := hooks.next(t); ev.CallID != other {
			t.Fatalf("event of %s, want %s (the blocked call's events must not come through)", ev.CallID, other)
		}
	}
}

func placeOfflineID(t *testing.T, e *env, to string) string {
	t.Helper()
	c, err := e.srv.PlaceCall(context.Background(), acct, "app", to, protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// Config.HookQueue bounds the events waiting for a blocked hook: at the
// limit nothing is dropped, one past it the oldest is, and it is counted.
func TestHookQueueLimit(t *testing.T) {
	for _, c := range []struct{ limit, dropped int }{{6, 0}, {5, 1}} {
		hooks := newGateHooks(func(calling.CallEvent) bool { return true })
		e := newEnv(t, func(cfg *calling.Config) { cfg.Hooks = hooks; cfg.HookQueue = c.limit; cfg.HookConcurrency = 1 })
		for i := range 3 { // 6 events, the first blocks in the hook
			placeOffline(t, e, i)
		}
		if n := e.srv.DroppedHookEvents(); n != uint64(c.dropped) {
			t.Fatalf("limit %d: %d dropped, want %d", c.limit, n, c.dropped)
		}
		close(hooks.release)
		e.close()
	}
	mgr, _ := rooms.NewManager(rooms.Config{})
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	if _, err := calling.New(calling.Config{Rooms: mgr, Verifier: ver, HookQueue: -1}); err == nil {
		t.Fatal("negative HookQueue accepted")
	}
}
