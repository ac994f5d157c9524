package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
)

func TestKeyRotation(t *testing.T) {
	f := newFixture(t, auth.ES256)
	ctx := context.Background()
	old, _, _ := f.issuer.Mint(ctx, auth.TokenRequest{Identity: "alice", TTL: 2 * time.Hour})
	next, _ := auth.GenerateKey(auth.EdDSA)
	f.keys.Rotate(next, time.Hour)

	fresh, _, _ := f.issuer.Mint(ctx, auth.TokenRequest{Identity: "bob"})
	if hdr := strings.Split(fresh, ".")[0]; !strings.Contains(mustDecode(t, hdr), next.ID()) {
		t.Fatal("new tokens are not signed by the new key")
	}
	for _, tok := range []string{old, fresh} {
		if _, err := f.verify.Verify(ctx, tok); err != nil {
			t.Fatalf("during grace: %v", err)
		}
	}
	jwks, _ := f.keys.JWKS()
	var doc struct{ Keys []struct{ Kid string } }
	_ = json.Unmarshal(jwks, &doc)
	if len(doc.Keys) != 2 {
		t.Fatalf("JWKS during grace has %d keys, want 2", len(doc.Keys))
	}
	f.clock.Advance(time.Hour)
	if _, err := f.verify.Verify(ctx, old); !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("old key after grace: %v", err)
	}
	jwks, _ = f.keys.JWKS()
	_ = json.Unmarshal(jwks, &doc)
	if len(doc.Keys) != 1 || doc.Keys[0].Kid != next.ID() {
		t.Fatalf("JWKS after grace: %s", jwks)
	}
}

func mustDecode(t *testing.T, s string) string {
	t.Helper()
	b, err := base64Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPEMRoundTrip(t *testing.T) {
	for _, alg := range []auth.Algorithm{auth.ES256, auth.EdDSA} {
		k, _ := auth.GenerateKey(alg)
		p, err := auth.MarshalPrivateKeyPEM(k)
		if err != nil {
			t.Fatal(err)
		}
		k2, err := auth.ParsePrivateKeyPEM(p)
		if err != nil {
			t.Fatal(err)
		}
		if k2.ID() != k.ID() || k2.Algorithm() != alg {
			t.Fatalf("%s: kid %s != %s", alg, k2.ID(), k.ID())
		}
	}
	if _, err := auth.ParsePrivateKeyPEM([]byte("not pem")); err == nil {
		t.Fatal("garbage PEM accepted")
	}
	if _, err := auth.NewHMACKey(make([]byte, 31)); err == nil {
		t.Fatal("31-byte HMAC secret accepted")
	}
	if _, err := auth.NewHMACKey(make([]byte, 32)); err != nil {
		t.Fatalf("32-byte HMAC secret: %v", err)
	}
}

// The replay cache holds MaxEntries live entries; one more is refused (fail
// closed) until an entry expires.
func TestReplayCacheBound(t *testing.T) {
	c := newClock()
	rc := auth.NewMemoryReplayCache(auth.MemoryReplayCacheConfig{MaxEntries: 3, Clock: c})
	ctx := context.Background()
	for i, jti := range []string{"a", "b", "c"} {
		first, err := rc.Use(ctx, jti, c.Now().Add(time.Duration(i+1)*time.Minute))
		if err != nil || !first {
			t.Fatalf("use %s: %v %v", jti, first, err)
		}
	}
	if first, err := rc.Use(ctx, "a", c.Now().Add(time.Minute)); err != nil || first {
		t.Fatal("second use of a reported as first")
	}
	if _, err := rc.Use(ctx, "d", c.Now().Add(time.Minute)); !errors.Is(err, auth.ErrReplayCacheFull) {
		t.Fatalf("4th entry: %v, want ErrReplayCacheFull", err)
	}
	if err := rc.Revoke(ctx, "e", c.Now().Add(time.Minute)); !errors.Is(err, auth.ErrReplayCacheFull) {
		t.Fatalf("revoke past the bound: %v", err)
	}
	c.Advance(time.Minute) // "a" expires
	if rc.Len() != 2 {
		t.Fatalf("len after expiry %d", rc.Len())
	}
	if first, err := rc.Use(ctx, "d", c.Now().Add(time.Minute)); err != nil || !first {
		t.Fatalf("after expiry: %v %v", first, err)
	}
	if err := rc.Revoke(ctx, "b", c.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r, _ := rc.Revoked(ctx, "b"); !r {
		t.Fatal("b not revoked")
	}
	c.Advance(2 * time.Minute) // b's original expiry passed, but revocation extended it
	if r, _ := rc.Revoked(ctx, "b"); !r {
		t.Fatal("revocation did not extend b's life")
	}
}

// A single-use token verifies once even under concurrent presentation.
func TestSingleUseConcurrent(t *testing.T) {
	f := newFixture(t, auth.ES256)
	tok, _, _ := f.issuer.Mint(context.Background(), auth.TokenRequest{Identity: "alice", SingleUse: true})
	const n = 8
	ok := make(chan bool, n)
	for range n {
		go func() {
			_, err := f.verify.Verify(context.Background(), tok)
			ok <- err == nil
		}()
	}
	wins := 0
	for range n {
		if <-ok {
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent uses accepted, want 1", wins, n)
	}
}
