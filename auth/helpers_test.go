package auth_test

import (
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	clock   *clock
	keys    *auth.KeySet
	issuer  *auth.Issuer
	verify  *auth.Verifier
	replay  *auth.MemoryReplayCache
	store   *auth.MemoryCredentialStore
	handler *auth.TokenHandler
}

const (
	testClientID = "acme-backend"
	testSecret   = "s3cr3t-with-enough-bytes"
)

func newFixture(t testing.TB, alg auth.Algorithm) *fixture {
	t.Helper()
	f := &fixture{clock: newClock()}
	key, err := auth.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	f.keys = auth.NewKeySet(key).WithClock(f.clock.Now)
	f.issuer, err = auth.NewIssuer(auth.IssuerConfig{Keys: f.keys, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.replay = auth.NewMemoryReplayCache(0, f.clock.Now)
	f.verify, err = auth.NewVerifier(auth.VerifierConfig{Keys: f.keys, Replay: f.replay, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	client, err := auth.NewClient(testClientID, testSecret, "acct-1", "calls", "sessions")
	if err != nil {
		t.Fatal(err)
	}
	f.store = auth.NewMemoryCredentialStore(client)
	f.handler, err = auth.NewTokenHandler(auth.TokenHandlerConfig{Issuer: f.issuer, Credentials: f.store, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}
