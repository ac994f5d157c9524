package auth_test

import (
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/internal/clocktest"
)

// newClock is the tests' clock, moved by hand.
func newClock() *clocktest.Fake { return clocktest.New(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)) }

type fixture struct {
	clock   *clocktest.Fake
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
	f.keys, err = auth.NewKeySet(auth.KeySetConfig{Current: key, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	f.issuer, err = auth.NewIssuer(auth.IssuerConfig{Keys: f.keys, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	f.replay = auth.NewMemoryReplayCache(auth.MemoryReplayCacheConfig{Clock: f.clock})
	f.verify, err = auth.NewVerifier(auth.VerifierConfig{Keys: f.keys, Replay: f.replay, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	client, err := auth.NewClient(testClientID, testSecret, "acct-1", "calls", "sessions")
	if err != nil {
		t.Fatal(err)
	}
	f.store = auth.NewMemoryCredentialStore(client)
	f.handler, err = auth.NewTokenHandler(auth.TokenHandlerConfig{Issuer: f.issuer, Credentials: f.store, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	return f
}
