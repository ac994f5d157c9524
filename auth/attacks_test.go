package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/internal/clocktest"
)

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func validPayload(f *fixture) gojwt.MapClaims {
	now := f.clock.Now().Unix()
	return gojwt.MapClaims{"sub": "mallory", "jti": "j1", "iss": "switchboard", "aud": []string{"switchboard"},
		"iat": now, "nbf": now, "exp": now + 600, "grants": map[string]any{"admin": true}}
}

// Every attack in the table is refused with the right error.
func TestVerifyAttacks(t *testing.T) {
	f := newFixture(t, auth.ES256)
	ctx := context.Background()
	kid := f.keys.Current().ID()
	good, _, err := f.issuer.Mint(ctx, auth.TokenRequest{Identity: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.verify.Verify(ctx, good); err != nil {
		t.Fatalf("baseline token refused: %v", err)
	}

	pubDER, _ := x509.MarshalPKIXPublicKey(f.keys.Current().Public())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	sign := func(method gojwt.SigningMethod, kid string, claims gojwt.MapClaims, key any) string {
		tk := gojwt.NewWithClaims(method, claims)
		tk.Header["kid"] = kid
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	mintWith := func(mod func(*auth.IssuerConfig)) string {
		cfg := auth.IssuerConfig{Keys: f.keys, Clock: f.clock}
		mod(&cfg)
		iss, err := auth.NewIssuer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := iss.Mint(ctx, auth.TokenRequest{Identity: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	parts := strings.Split(good, ".")
	var payload map[string]any
	pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(pb, &payload)
	payload["grants"] = map[string]any{"admin": true}
	tampered := parts[0] + "." + b64(payload) + "." + parts[2]

	revokedTok, revokedClaims, _ := f.issuer.Mint(ctx, auth.TokenRequest{Identity: "alice"})
	if err := f.replay.Revoke(ctx, auth.RevocationKey(revokedClaims.Account, revokedClaims.ID), revokedClaims.Expiry); err != nil {
		t.Fatal(err)
	}
	onceTok, _, _ := f.issuer.Mint(ctx, auth.TokenRequest{Identity: "alice", SingleUse: true})
	if _, err := f.verify.Verify(ctx, onceTok); err != nil {
		t.Fatalf("first use of single-use token: %v", err)
	}
	expiredTok, _, _ := f.issuer.Mint(ctx, auth.TokenRequest{Identity: "alice", TTL: time.Minute})
	futureTok := mintWith(func(c *auth.IssuerConfig) {
		c.Clock = clocktest.New(f.clock.Now().Add(5 * time.Minute))
	})
	skewedTok := mintWith(func(c *auth.IssuerConfig) {
		c.Clock = clocktest.New(f.clock.Now().Add(20 * time.Second)) // within the 30 s skew
	})

	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"alg none", b64(map[string]string{"alg": "none", "kid": kid, "typ": "JWT"}) + "." + b64(validPayload(f)) + ".", auth.ErrInvalidToken},
		{"alg none without kid", b64(map[string]string{"alg": "none"}) + "." + b64(validPayload(f)) + ".", auth.ErrUnknownKey},
		{"HS256 with the public key as secret", sign(gojwt.SigningMethodHS256, kid, validPayload(f), pubPEM), auth.ErrInvalidToken},
		{"HS256 with the public key DER as secret", sign(gojwt.SigningMethodHS256, kid, validPayload(f), pubDER), auth.ErrInvalidToken},
		{"signed with another key under our kid", sign(gojwt.SigningMethodES256, kid, validPayload(f), otherKey), auth.ErrInvalidToken},
		{"unknown kid", sign(gojwt.SigningMethodES256, "no-such-kid", validPayload(f), otherKey), auth.ErrUnknownKey},
		{"tampered payload", tampered, auth.ErrInvalidToken},
		{"truncated signature", good[:len(good)-10], auth.ErrInvalidToken},
		{"not a JWT", "hello", auth.ErrInvalidToken},
		{"empty", "", auth.ErrInvalidToken},
		{"oversized", strings.Repeat("a", auth.MaxTokenSize) + ".b.c", auth.ErrInvalidToken},
		{"crit header", b64(map[string]any{"alg": "ES256", "kid": kid, "crit": []string{"x"}}) + "." + parts[1] + "." + parts[2], auth.ErrInvalidToken},
		{"not yet valid", futureTok, auth.ErrNotYetValid},
		{"wrong aud", mintWith(func(c *auth.IssuerConfig) { c.Audience = []string{"someone-else"} }), auth.ErrInvalidToken},
		{"wrong iss", mintWith(func(c *auth.IssuerConfig) { c.Issuer = "evil" }), auth.ErrInvalidToken},
		{"revoked jti", revokedTok, auth.ErrRevoked},
		{"single-use replayed", onceTok, auth.ErrReplayed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := f.verify.Verify(ctx, tc.token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v (claims %+v), want %v", err, c, tc.want)
			}
			if tc.token != "" && len(tc.token) > 20 && strings.Contains(err.Error(), tc.token[len(tc.token)-20:]) {
				t.Fatalf("error echoes the token: %v", err)
			}
		})
	}
	if _, err := f.verify.Verify(ctx, skewedTok); err != nil {
		t.Fatalf("token 20 s in the future (within skew) refused: %v", err)
	}
	// Expired: 60 s lifetime + 30 s skew; at +89 s valid, at +90 s expired.
	f.clock.Advance(89 * time.Second)
	if _, err := f.verify.Verify(ctx, expiredTok); err != nil {
		t.Fatalf("token within exp+skew refused: %v", err)
	}
	f.clock.Advance(time.Second)
	if _, err := f.verify.Verify(ctx, expiredTok); !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("expired token: err = %v", err)
	}
}

// Claims a verifier must insist on even under a valid signature.
func TestVerifyRequiredClaims(t *testing.T) {
	f := newFixture(t, auth.HS256)
	ctx := context.Background()
	// A known shared secret, so a second implementation can sign with it.
	secret := []byte("0123456789abcdef0123456789abcdef")
	hk, err := auth.NewHMACKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	f.keys.Rotate(hk, time.Hour)
	sign := func(claims gojwt.MapClaims) string {
		tk := gojwt.NewWithClaims(gojwt.SigningMethodHS256, claims)
		tk.Header["kid"] = hk.ID()
		s, err := tk.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	without := func(name string) gojwt.MapClaims {
		c := validPayload(f)
		delete(c, name)
		return c
	}
	with := func(name string, v any) gojwt.MapClaims {
		c := validPayload(f)
		c[name] = v
		return c
	}
	if _, err := f.verify.Verify(ctx, sign(validPayload(f))); err != nil {
		t.Fatalf("baseline HS256 token refused: %v", err)
	}
	now := f.clock.Now().Unix()
	cases := []struct {
		name   string
		claims gojwt.MapClaims
		want   error
	}{
		{"no exp", without("exp"), auth.ErrInvalidToken},
		{"no iat", without("iat"), auth.ErrInvalidToken},
		{"no jti", without("jti"), auth.ErrInvalidToken},
		{"lifetime over 24h", with("exp", now+25*3600), auth.ErrInvalidToken},
		{"identity too short", with("sub", "ab"), auth.ErrInvalidIdentity},
		{"identity with space", with("sub", "bad name"), auth.ErrInvalidIdentity},
		{"unknown publish grant", with("grants", map[string]any{"publish": []string{"SCREEN"}}), auth.ErrInvalidToken},
		{"single-use but ok", with("once", false), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.verify.Verify(ctx, sign(tc.claims))
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
