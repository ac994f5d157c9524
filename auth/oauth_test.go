package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/switchboard-rtc/switchboard/auth"
)

// A real OAuth2 client gets a token from the endpoint and the token verifies.
func TestOAuth2ClientCredentials(t *testing.T) {
	f := newFixture(t, auth.ES256)
	srv := httptest.NewServer(f.handler)
	defer srv.Close()

	// The real clock: the oauth2 library checks expiry against time.Now.
	f.clock.Set(time.Now())
	cc := clientcredentials.Config{
		ClientID: testClientID, ClientSecret: testSecret, TokenURL: srv.URL,
		Scopes: []string{"calls"}, AuthStyle: oauth2.AuthStyleInHeader,
	}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	if tok.TokenType != "Bearer" {
		t.Errorf("token_type = %q", tok.TokenType)
	}
	if got := time.Until(tok.Expiry).Round(time.Minute); got != 10*time.Minute {
		t.Errorf("expires in %v, want 10m (600 s default)", got)
	}
	c, err := f.verify.Verify(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if c.Subject != testClientID || c.Account != "acct-1" || c.Scope != "calls" || !c.Grants.Admin {
		t.Errorf("claims = %+v", c)
	}
	if id, _ := tok.Extra("access_token_id").(string); id != c.ID || id == "" {
		t.Errorf("access_token_id %q != jti %q", id, c.ID)
	}

	// A wrong secret surfaces as a RetrieveError with invalid_client.
	cc.ClientSecret = "wrong-secret-wrong-secret"
	_, err = cc.Token(context.Background())
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
		t.Fatalf("wrong secret: %v", err)
	}
}

// jwk is the subset of RFC 7517 the independent check reads.
type jwk struct {
	Kty, Crv, X, Y, Kid, Alg, Use string
}

// publicKeyFromJWK decodes a JWK by hand, independent of jwx.
func publicKeyFromJWK(t *testing.T, k jwk) any {
	t.Helper()
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	switch {
	case k.Kty == "EC" && k.Crv == "P-256":
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, dec(k.X)...), dec(k.Y)...))
		if err != nil {
			t.Fatal(err)
		}
		return pub
	case k.Kty == "OKP" && k.Crv == "Ed25519":
		return ed25519.PublicKey(dec(k.X))
	}
	t.Fatalf("unexpected JWK %+v", k)
	return nil
}

// A second JWT implementation (golang-jwt) verifies our tokens from the
// JWKS document alone.
func TestJWKSIndependentVerification(t *testing.T) {
	for _, alg := range []auth.Algorithm{auth.ES256, auth.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			f := newFixture(t, alg)
			srv := httptest.NewServer(f.keys.JWKSHandler())
			defer srv.Close()
			res, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			var doc struct{ Keys []jwk }
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Keys) != 1 || doc.Keys[0].Alg != string(alg) || doc.Keys[0].Use != "sig" || doc.Keys[0].Kid == "" {
				t.Fatalf("jwks = %s", body)
			}
			if strings.Contains(string(body), `"d"`) {
				t.Fatal("JWKS leaks private key material")
			}
			f.clock.Set(time.Now())
			tok, _, err := f.issuer.Mint(context.Background(), auth.TokenRequest{Identity: "alice", Grants: auth.Grants{Outgoing: true}})
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := gojwt.Parse(tok, func(tk *gojwt.Token) (any, error) {
				kid, _ := tk.Header["kid"].(string)
				for _, k := range doc.Keys {
					if k.Kid == kid {
						return publicKeyFromJWK(t, k), nil
					}
				}
				return nil, errors.New("no such kid")
			}, gojwt.WithValidMethods([]string{string(alg)}), gojwt.WithAudience("switchboard"), gojwt.WithIssuer("switchboard"), gojwt.WithExpirationRequired())
			if err != nil {
				t.Fatalf("golang-jwt rejects our token: %v", err)
			}
			mc := parsed.Claims.(gojwt.MapClaims)
			if mc["sub"] != "alice" || mc["grants"].(map[string]any)["outgoing"] != true {
				t.Errorf("claims seen by golang-jwt: %v", mc)
			}
		})
	}
}
