// Package authtest holds the conformance suite of auth's ReplayCache seam.
// The in-memory cache and adapters/redis run the same suite, so a shared
// cache behaves as the default one does; an implementation outside this
// module can run it too.
package authtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
)

// ReplayCacheHarness is one fresh, empty cache under test and how time
// passes for it.
type ReplayCacheHarness struct {
	// New returns a handle on the cache: a process-local cache returns
	// itself every time, a shared one a new client on the same data (as
	// the nodes of one deployment see it).
	New func() auth.ReplayCache
	// Now is the time the cache reads (with Advance nil, time.Now).
	Now func() time.Time
	// Advance moves the cache's clock forward by d. Set it for a cache on
	// a clock the test moves by hand: the suite then checks expiry to the
	// nanosecond. Leave it nil for a cache whose entries lapse on a
	// server's own clock (Redis TTLs): the suite then gives entries
	// lifetimes of RealLifetime and waits for them to lapse, allowing a
	// few milliseconds of rounding.
	Advance func(d time.Duration)
}

// RealLifetime is the lifetime the suite gives entries of a cache on real
// time: long enough that a slow machine still checks them while they live.
const RealLifetime = 1500 * time.Millisecond

// wait bounds every wait of the suite.
const wait = 10 * time.Second

// ReplayCacheSuite tests an auth.ReplayCache: a revocation is seen through
// every handle and only under its own RevocationKey (so only in its
// account); Use reports the first use once, even when many callers race;
// entries last exactly until the time given (a later Revoke extends, an
// earlier one does not shorten) and are gone after it; an entry whose time
// has passed is not kept.
func ReplayCacheSuite(t *testing.T, newCache func(t *testing.T) ReplayCacheHarness) {
	t.Run("Revoke", func(t *testing.T) { testRevoke(t, newCache(t)) })
	t.Run("UseOnce", func(t *testing.T) { testUseOnce(t, newCache(t)) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, newCache(t)) })
	t.Run("AlreadyExpired", func(t *testing.T) { testAlreadyExpired(t, newCache(t)) })
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func revoked(t *testing.T, c auth.ReplayCache, key string) bool {
	t.Helper()
	r, err := c.Revoked(context.Background(), key)
	must(t, err)
	return r
}

func use(t *testing.T, c auth.ReplayCache, jti string, until time.Time) bool {
	t.Helper()
	first, err := c.Use(context.Background(), jti, until)
	must(t, err)
	return first
}

func testRevoke(t *testing.T, h ReplayCacheHarness) {
	ctx := context.Background()
	a, b := h.New(), h.New()
	key := auth.RevocationKey("acct-1", "jti-1")
	if revoked(t, b, key) {
		t.Fatal("revoked before Revoke")
	}
	must(t, a.Revoke(ctx, key, h.Now().Add(time.Hour)))
	if !revoked(t, b, key) || !revoked(t, a, key) {
		t.Fatal("a revocation is not seen through every handle")
	}
	if revoked(t, b, auth.RevocationKey("acct-2", "jti-1")) {
		t.Fatal("revoking jti-1 of acct-1 revoked acct-2's jti-1")
	}
	if revoked(t, b, auth.RevocationKey("acct-1", "jti-2")) {
		t.Fatal("revoking jti-1 revoked jti-2")
	}
	must(t, a.Revoke(ctx, key, h.Now().Add(time.Hour))) // again: no error
	if !revoked(t, a, key) {
		t.Fatal("revoking twice undid the revocation")
	}
}

func testUseOnce(t *testing.T, h ReplayCacheHarness) {
	a, b := h.New(), h.New()
	until := h.Now().Add(time.Hour)
	if !use(t, a, "jti-1", until) {
		t.Fatal("first use not reported as first")
	}
	if use(t, b, "jti-1", until) || use(t, a, "jti-1", until) {
		t.Fatal("second use reported as first")
	}
	if !use(t, b, "jti-2", until) {
		t.Fatal("another jti's first use not reported as first")
	}
	// Many callers race for one jti: exactly one is first.
	var wg sync.WaitGroup
	var mu sync.Mutex
	firsts := 0
	for i := range 16 {
		c := []auth.ReplayCache{a, b}[i%2]
		wg.Go(func() {
			first, err := c.Use(context.Background(), "jti-race", until)
			if err != nil {
				t.Errorf("Use: %v", err)
				return
			}
			if first {
				mu.Lock()
				firsts++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firsts != 1 {
		t.Fatalf("%d racing uses reported first, want 1", firsts)
	}
}

// testExpiry checks, for a revocation, an extended revocation, one that an
// earlier Revoke must not shorten, and a use: present until their time,
// gone after it.
func testExpiry(t *testing.T, h ReplayCacheHarness) {
	ctx := context.Background()
	c := h.New()
	life := RealLifetime
	if h.Advance != nil {
		life = time.Hour
	}
	start := h.Now()
	until := start.Add(life)
	kShort, kExtended, kNotShortened := auth.RevocationKey("a", "short"), auth.RevocationKey("a", "extended"), auth.RevocationKey("a", "kept")
	must(t, c.Revoke(ctx, kShort, until))
	must(t, c.Revoke(ctx, kExtended, until))
	must(t, c.Revoke(ctx, kExtended, until.Add(time.Hour))) // extends
	must(t, c.Revoke(ctx, kNotShortened, until.Add(time.Hour)))
	must(t, c.Revoke(ctx, kNotShortened, until)) // must not shorten
	if !use(t, c, "jti-used", until) {
		t.Fatal("first use not first")
	}
	if h.Advance == nil && time.Since(start) > life/2 {
		t.Fatalf("setting four entries took %s, more than half their lifetime: too slow to check expiry", time.Since(start))
	}
	if !revoked(t, c, kShort) || use(t, c, "jti-used", until) {
		t.Fatal("entries gone before their time")
	}
	// revGone and useGone say whether each entry has been seen gone; a use
	// that finds its entry gone records a new one, so it is asked only
	// until then.
	revGone, useGone := false, false
	look := func() {
		revGone = revGone || !revoked(t, c, kShort)
		useGone = useGone || use(t, c, "jti-used", until.Add(time.Hour))
	}
	if h.Advance != nil {
		h.Advance(until.Sub(h.Now()) - time.Nanosecond)
		if look(); revGone || useGone {
			t.Fatalf("gone a nanosecond before their time: revocation %v, use %v", revGone, useGone)
		}
		h.Advance(time.Nanosecond)
		if look(); !revGone || !useGone {
			t.Fatalf("still there at their time: revocation %v, use %v", !revGone, !useGone)
		}
	} else {
		// Poll until both are gone; they must not go (much) before their time.
		deadline := time.Now().Add(wait)
		for look(); !revGone || !useGone; look() {
			if early := until.Sub(time.Now()); (revGone || useGone) && early > 5*time.Millisecond {
				t.Fatalf("an entry was gone %s before its time", early)
			}
			if time.Now().After(deadline) {
				t.Fatalf("still there %s after their time: revocation %v, use %v", time.Since(until), !revGone, !useGone)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if early := until.Sub(time.Now()); early > 5*time.Millisecond {
			t.Fatalf("entries were gone %s before their time", early)
		}
	}
	if !revoked(t, c, kExtended) {
		t.Fatal("a revocation extended by a later Revoke lapsed at the first time")
	}
	if !revoked(t, c, kNotShortened) {
		t.Fatal("a revocation was shortened by a Revoke with an earlier time")
	}
	// The use recorded again when the first had lapsed is a fresh entry: a
	// single-use jti is refused again until its new time.
	if use(t, c, "jti-used", until.Add(time.Hour)) {
		t.Fatal("a use recorded after the first one lapsed was forgotten")
	}
}

func testAlreadyExpired(t *testing.T, h ReplayCacheHarness) {
	ctx := context.Background()
	c := h.New()
	past := h.Now().Add(-time.Second)
	key := auth.RevocationKey("a", "old")
	if err := c.Revoke(ctx, key, past); err != nil {
		t.Fatalf("revoking an expired token: %v", err)
	}
	if revoked(t, c, key) {
		t.Fatal("a revocation whose time has passed is kept")
	}
	for i := range 2 {
		first, err := c.Use(ctx, "jti-old", past)
		if err != nil || !first {
			t.Fatalf("use %d of an expired jti: %v, %v; want true (nothing to remember)", i, first, err)
		}
	}
}
