package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/adapters/redis"
	"github.com/switchboard-rtc/switchboard/calling"
)

var _ calling.Presence = (*redis.Presence)(nil)

// A busy mark whose node stops renewing it (the node died) lapses after the
// TTL, so the identity can be called again; while Run renews it, it
// outlives the TTL many times over; a released mark is not renewed.
func TestPresenceTTL(t *testing.T) {
	ctx := context.Background()
	next := clients(t)
	const ttl = 300 * time.Millisecond
	dead := next().Presence(redis.PresenceConfig{TTL: ttl})
	alive := next().Presence(redis.PresenceConfig{TTL: ttl})
	other := next().Presence(redis.PresenceConfig{TTL: ttl})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		alive.Run(runCtx)
	}()
	defer func() {
		stop()
		<-done
	}()

	claim := func(p *redis.Presence, identity, call string) bool {
		t.Helper()
		ok, err := p.Claim(ctx, "acct", identity, call)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	claimed := time.Now()
	if !claim(dead, "alice", "call-dead") || !claim(alive, "bob", "call-alive") || !claim(alive, "carol", "call-gone") {
		t.Fatal("claims of free identities failed")
	}
	if err := alive.Release(ctx, "acct", "carol", "call-gone"); err != nil {
		t.Fatal(err)
	}
	if alive.Held() != 1 {
		t.Fatalf("Run renews %d marks, want 1 (bob's)", alive.Held())
	}
	// alice's mark lapses: another node may then claim her.
	waitFor(t, "a mark that nobody renews to lapse", func() bool { return claim(other, "alice", "call-new") })
	if lapsed := time.Since(claimed); lapsed < ttl-20*time.Millisecond {
		t.Fatalf("the mark lapsed after %s, before its TTL of %s", lapsed, ttl)
	}
	// bob's is renewed by Run for several TTLs.
	for until := time.Now().Add(4 * ttl); time.Now().Before(until); {
		if h, err := other.Holder(ctx, "acct", "bob"); err != nil || h != "call-alive" {
			t.Fatalf("a renewed mark lapsed: holder %q, %v", h, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A mark taken over elsewhere (here: released by the other node's
	// call and claimed anew) is forgotten by the renewer.
	if err := other.Release(ctx, "acct", "bob", "call-alive"); err != nil {
		t.Fatal(err)
	}
	claim(other, "bob", "call-other")
	waitFor(t, "the renewer to forget a mark it lost", func() bool { return alive.Held() == 0 })
	if h, _ := other.Holder(ctx, "acct", "bob"); h != "call-other" {
		t.Fatalf("holder %q after the renewer lost the mark", h)
	}
}
