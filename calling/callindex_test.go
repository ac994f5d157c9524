package calling

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/internal/clocktest"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// A disconnect looks only at its identity's calls: the index holds each
// call under its two identities while the call is retained, and nothing
// after, so goOffline never scans every retained call of the server.
func TestCallIndexFollowsRetention(t *testing.T) {
	mgr, err := rooms.NewManager(rooms.Config{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewKeySet(auth.KeySetConfig{Current: mustKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	s, err := New(Config{Rooms: mgr, Verifier: verifier, Clock: clk, CallRetention: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, to := range []string{"bob", "carol", "bob"} {
		c, err := s.PlaceCall(context.Background(), "acct", "line", to, protocol.CallOptions{Audio: true})
		if err != nil {
			t.Fatal(err)
		}
		if st := c.Info().State; st != protocol.StateFailed { // nobody connected, no Waker
			t.Fatalf("call %d: %s", i, st)
		}
	}
	s.callsMu.Lock()
	bob, carol, line := len(s.callsOf[identKey{"acct", "bob"}]), len(s.callsOf[identKey{"acct", "carol"}]), len(s.callsOf[identKey{"acct", "line"}])
	s.callsMu.Unlock()
	if bob != 2 || carol != 1 || line != 3 {
		t.Fatalf("index while retained: bob %d carol %d line %d, want 2 1 3", bob, carol, line)
	}
	clk.Advance(time.Minute)
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	if len(s.calls) != 0 || len(s.callsOf) != 0 {
		t.Fatalf("after retention: %d calls, %d identities indexed", len(s.calls), len(s.callsOf))
	}
}

func mustKey(t *testing.T) *auth.Key {
	k, err := auth.GenerateKey(auth.ES256)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Limits.Calls bounds the calls a Server holds: at the cap the call that
// ended first is forgotten early; when every held call is live, a new one
// is refused with 503 server_full.
func TestCallsCap(t *testing.T) {
	mgr, err := rooms.NewManager(rooms.Config{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewKeySet(auth.KeySetConfig{Current: mustKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	waking := make(chan struct{}, 8)
	hang := WakerFunc(func(ctx context.Context, _ Wakeup) error { // a provider that never answers
		waking <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	s, err := New(Config{Rooms: mgr, Verifier: verifier, Clock: clk, Limits: Limits{Calls: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var ids []string
	for range 3 { // ended at once (nobody connected, no Waker): each evicts the oldest at the cap
		c, err := s.PlaceCall(ctx, "acct", "line", "bob", protocol.CallOptions{Audio: true})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	if _, ok := s.Call("acct", ids[0]); ok {
		t.Fatal("the first ended call was not forgotten at the cap")
	}
	for _, id := range ids[1:] {
		if _, ok := s.Call("acct", id); !ok {
			t.Fatalf("call %s forgotten, want it retained", id)
		}
	}
	s.cfg.Waker = hang
	for _, to := range []string{"carol", "erin"} { // live: connecting while the Waker hangs; each evicts an ended one
		if _, err := s.PlaceCall(ctx, "acct", "line", to, protocol.CallOptions{Audio: true}); err != nil {
			t.Fatal(err)
		}
		<-waking
	}
	_, err = s.PlaceCall(ctx, "acct", "line", "dave", protocol.CallOptions{Audio: true})
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != 503 || pe.Reason != protocol.ReasonServerFull {
		t.Fatalf("a third live call: %v, want 503 server_full", err)
	}
}
