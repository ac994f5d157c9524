// Package callingtest holds the conformance suite of calling's Presence
// seam. The in-memory Presence and adapters/redis run the same suite, so
// busy marks shared between nodes behave as one process's do; an
// implementation outside this module can run it too.
package callingtest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/switchboard-rtc/switchboard/calling"
)

// NewPresence returns a constructor of handles on one fresh, empty set of
// busy marks: each call returns a calling.Presence over the same marks, as
// the nodes of one deployment see them (a process-local Presence returns
// itself every time; a shared one returns a new client). It cleans up after
// itself with t.Cleanup.
type NewPresence func(t *testing.T) func() calling.Presence

// PresenceSuite tests a calling.Presence: Claim is a compare-and-set (an
// identity is busy with at most one call, whichever handle asks, even when
// many race), claiming again with the holding call succeeds, Release by a
// call that does not hold the mark changes nothing, marks are scoped to
// their account, and Holder reports the holding call ("" for none).
func PresenceSuite(t *testing.T, newPresence NewPresence) {
	t.Run("ClaimIsCompareAndSet", func(t *testing.T) { testClaim(t, newPresence(t)) })
	t.Run("ReleaseOnlyByHolder", func(t *testing.T) { testRelease(t, newPresence(t)) })
	t.Run("AccountScoped", func(t *testing.T) { testAccounts(t, newPresence(t)) })
	t.Run("RacingClaims", func(t *testing.T) { testRace(t, newPresence(t)) })
}

func claim(t *testing.T, p calling.Presence, account, identity, call string) bool {
	t.Helper()
	ok, err := p.Claim(context.Background(), account, identity, call)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return ok
}

func holder(t *testing.T, p calling.Presence, account, identity string) string {
	t.Helper()
	h, err := p.Holder(context.Background(), account, identity)
	if err != nil {
		t.Fatalf("Holder: %v", err)
	}
	return h
}

func release(t *testing.T, p calling.Presence, account, identity, call string) {
	t.Helper()
	if err := p.Release(context.Background(), account, identity, call); err != nil {
		t.Fatalf("Release: %v", err)
	}
}

func testClaim(t *testing.T, handle func() calling.Presence) {
	a, b := handle(), handle()
	if h := holder(t, b, "acct", "alice"); h != "" {
		t.Fatalf("holder before any claim: %q", h)
	}
	if !claim(t, a, "acct", "alice", "call-1") {
		t.Fatal("claiming a free identity failed")
	}
	if h := holder(t, b, "acct", "alice"); h != "call-1" {
		t.Fatalf("holder through the other handle: %q, want call-1", h)
	}
	if !claim(t, b, "acct", "alice", "call-1") {
		t.Fatal("claiming again with the holding call failed")
	}
	if claim(t, b, "acct", "alice", "call-2") {
		t.Fatal("a second call claimed a busy identity")
	}
	if h := holder(t, a, "acct", "alice"); h != "call-1" {
		t.Fatalf("holder after a refused claim: %q, want call-1", h)
	}
	if !claim(t, b, "acct", "bob", "call-2") {
		t.Fatal("claiming another identity failed")
	}
}

func testRelease(t *testing.T, handle func() calling.Presence) {
	a, b := handle(), handle()
	release(t, a, "acct", "alice", "call-0") // nothing held: not an error
	claim(t, a, "acct", "alice", "call-1")
	release(t, b, "acct", "alice", "call-2") // not the holder: no effect
	if h := holder(t, a, "acct", "alice"); h != "call-1" {
		t.Fatalf("a release by another call removed the mark: holder %q", h)
	}
	release(t, b, "acct", "alice", "call-1")
	if h := holder(t, a, "acct", "alice"); h != "" {
		t.Fatalf("holder after release: %q", h)
	}
	if !claim(t, a, "acct", "alice", "call-2") {
		t.Fatal("claiming a released identity failed")
	}
	release(t, a, "acct", "alice", "call-1") // the old call, late: no effect
	if h := holder(t, b, "acct", "alice"); h != "call-2" {
		t.Fatalf("a late release of an old call removed the new mark: holder %q", h)
	}
}

func testAccounts(t *testing.T, handle func() calling.Presence) {
	a, b := handle(), handle()
	claim(t, a, "acct-1", "alice", "call-1")
	if !claim(t, b, "acct-2", "alice", "call-2") {
		t.Fatal("alice of acct-1 being busy made alice of acct-2 busy")
	}
	if h := holder(t, b, "acct-2", "alice"); h != "call-2" {
		t.Fatalf("acct-2's holder %q", h)
	}
	release(t, a, "acct-2", "alice", "call-1")
	if h := holder(t, b, "acct-2", "alice"); h != "call-2" {
		t.Fatalf("a release in acct-2 by acct-1's call: holder %q", h)
	}
}

func testRace(t *testing.T, handle func() calling.Presence) {
	handles := []calling.Presence{handle(), handle()}
	const racers = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	for i := range racers {
		p := handles[i%2]
		wg.Go(func() {
			id := fmt.Sprintf("call-%d", i)
			ok, err := p.Claim(context.Background(), "acct", "carol", id)
			if err != nil {
				t.Errorf("Claim: %v", err)
				return
			}
			if ok {
				mu.Lock()
				winners = append(winners, id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d racing calls claimed one identity: %v", len(winners), winners)
	}
	if h := holder(t, handles[1], "acct", "carol"); h != winners[0] {
		t.Fatalf("holder %q, winner %q", h, winners[0])
	}
}
