package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
)

func TestMiddleware(t *testing.T) {
	f := newFixture(t, auth.ES256)
	ctx := context.Background()
	admin, _, _ := f.issuer.Mint(ctx, auth.TokenRequest{Identity: "ops-1", Account: "acct-1", Grants: auth.Grants{Admin: true}})
	user, _, _ := f.issuer.Mint(ctx, auth.TokenRequest{Identity: "alice", Account: "acct-1"})
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := auth.FromContext(r.Context())
		if !ok {
			t.Error("no claims in context")
		}
		fmt.Fprint(w, c.Subject+"@"+c.Account)
	})
	strict := auth.Middleware(f.verify, auth.GrantAdmin)(echo)
	loose := auth.NewMiddleware(auth.MiddlewareConfig{Verifier: f.verify, Credentials: f.store, AllowQueryToken: true, Now: f.clock.Now})(echo)

	cases := []struct {
		name   string
		h      http.Handler
		target string
		authz  string
		status int
		body   string
	}{
		{"bearer admin", strict, "/", "Bearer " + admin, 200, "ops-1@acct-1"},
		{"lower-case scheme", strict, "/", "bearer " + admin, 200, "ops-1@acct-1"},
		{"missing grant", strict, "/", "Bearer " + user, 403, `"code":"forbidden"`},
		{"no credentials", strict, "/", "", 401, `"code":"unauthorized"`},
		{"garbage token", strict, "/", "Bearer xyz", 401, `"code":"invalid_token"`},
		{"unknown scheme", strict, "/", "Digest abc", 401, `"code":"invalid_token"`},
		{"query token refused by default", strict, "/?access_token=" + admin, "", 401, `"code":"unauthorized"`},
		{"query token where enabled", loose, "/?access_token=" + user, "", 200, "alice@acct-1"},
		{"basic with API credentials", loose, "/", "Basic " + basic(testClientID, testSecret), 200, testClientID + "@acct-1"},
		{"basic with wrong secret", loose, "/", "Basic " + basic(testClientID, "nope"), 401, `"code":"invalid_client"`},
		{"basic where not enabled", strict, "/", "Basic " + basic(testClientID, testSecret), 401, `"code":"invalid_token"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.target, nil)
			if tc.authz != "" {
				r.Header.Set("Authorization", tc.authz)
			}
			w := httptest.NewRecorder()
			tc.h.ServeHTTP(w, r)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.body) {
				t.Fatalf("got %d %s, want %d %s", w.Code, w.Body, tc.status, tc.body)
			}
			if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func basic(u, p string) string {
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth(u, p)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestTokensAPI(t *testing.T) {
	f := newFixture(t, auth.ES256)
	h := auth.NewMiddleware(auth.MiddlewareConfig{Verifier: f.verify, Credentials: f.store, Require: []auth.Grant{auth.GrantAdmin}})(auth.TokensHandler(f.issuer))
	do := func(authz, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/v1/tokens", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", authz)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	adminAuth := "Basic " + basic(testClientID, testSecret)
	w := do(adminAuth, `{"identity":"alice","displayName":"Alice","grants":{"outgoing":true,"publish":["AUDIO"]},"ttl":300}`)
	if w.Code != 201 {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	var res auth.UserTokenResponse
	_ = json.Unmarshal(w.Body.Bytes(), &res)
	c, err := f.verify.Verify(context.Background(), res.Token)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "alice" || c.Account != "acct-1" || c.DisplayName != "Alice" || !c.Grants.Outgoing ||
		!c.Grants.CanPublish(auth.MediaAudio) || c.Grants.CanPublish(auth.MediaVideo) || !res.ExpiresAt.Equal(f.clock.Now().Add(300e9)) {
		t.Fatalf("claims %+v, response %+v", c, res)
	}
	w = do(adminAuth, `{"capabilities":["client.outgoing?identity=Bert","client.incoming?identity=Bert"]}`)
	if w.Code != 201 || !strings.Contains(w.Body.String(), `"identity":"Bert"`) {
		t.Fatalf("capabilities: %d %s", w.Code, w.Body)
	}
	userTok, _, _ := f.issuer.Mint(context.Background(), auth.TokenRequest{Identity: "alice"})
	for _, tc := range []struct {
		authz, body string
		status      int
		code        string
	}{
		{"Bearer " + userTok, `{"identity":"mallory"}`, 403, "forbidden"},
		{adminAuth, `{"identity":"no"}`, 400, "invalid_identity"},
		{adminAuth, `{}`, 400, "validation_failed"},
		{adminAuth, `{"identity":"alice","extra":1}`, 400, "invalid_json"},
		{adminAuth, `{"identity":"alice","ttl":86401}`, 400, "invalid_claims"},
		{adminAuth, `{"identity":"alice","ttl":86400}`, 201, ""},
		{adminAuth, `{"identity":"alice","grants":{"publish":["SMELL"]}}`, 400, "validation_failed"},
		{adminAuth, `{"identity":"alice","pad":"` + strings.Repeat("x", auth.MaxTokensAPIBody) + `"}`, 413, "body_too_large"},
		{adminAuth, `{"capabilities":["client.incoming?identity=Bert","room.join?name=hello","publish?media=VIDEO","data"]}`, 201, `"identity":"Bert"`},
		{adminAuth, `{"identity":"Bert","capabilities":["room.join?name=hello"]}`, 201, `"identity":"Bert"`},
		{adminAuth, `{"identity":"Bert","capabilities":[` + strings.Repeat(`"data",`, auth.MaxCapabilities-1) + `"data"]}`, 201, ""},
		{adminAuth, `{"identity":"Bert","capabilities":[` + strings.Repeat(`"data",`, auth.MaxCapabilities) + `"data"]}`, 400, "validation_failed"},
		{adminAuth, `{"identity":"Bert","capabilities":["room.join?name=a%E2%80%AEb"]}`, 400, "invalid_claims"},
		{adminAuth, `{"identity":"Bert","grants":{"rooms":["a\u202eb"]}}`, 400, "invalid_claims"},
		{adminAuth, `{"identity":"\u0430lice"}`, 400, "invalid_identity"},
		{adminAuth, `{"identity":"alice","identity":"mallory"}`, 400, "duplicate_key"},
		{adminAuth, `{"Identity":"alice"}`, 400, "key_case_mismatch"},
		{adminAuth, `{"identity":"alice","grants":{"Admin":true}}`, 400, "key_case_mismatch"},
	} {
		w := do(tc.authz, tc.body)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.code) {
			t.Errorf("%.60s: %d %s, want %d %s", tc.body, w.Code, w.Body, tc.status, tc.code)
		}
	}
}

func TestRevokeHandler(t *testing.T) {
	f := newFixture(t, auth.ES256)
	ctx := context.Background()
	tok, c, _ := f.issuer.Mint(ctx, auth.TokenRequest{Identity: "alice"})
	mux := http.NewServeMux()
	mux.Handle("DELETE /v1/tokens/{id}", auth.NewMiddleware(auth.MiddlewareConfig{Verifier: f.verify, Credentials: f.store})(auth.RevokeHandler(f.replay, f.issuer.MaxTTL(), f.clock.Now)))
	do := func(authz, id string) int {
		r := httptest.NewRequest("DELETE", "/v1/tokens/"+id, nil)
		r.Header.Set("Authorization", authz)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w.Code
	}
	if code := do("Bearer "+tok, c.ID); code != 403 {
		t.Fatalf("a user revoking: %d", code)
	}
	if code := do("Basic "+basic(testClientID, testSecret), c.ID); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	if _, err := f.verify.Verify(ctx, tok); !errors.Is(err, auth.ErrRevoked) {
		t.Fatalf("after revocation: %v", err)
	}
}

// Failed Basic attempts: the failing address is limited (401 ten times,
// then 429); the client id counts failures only, so an attacker spraying
// wrong secrets from many addresses never locks the real client out.
func TestMiddlewareBasicLimit(t *testing.T) {
	f := newFixture(t, auth.ES256)
	h := auth.NewMiddleware(auth.MiddlewareConfig{Verifier: f.verify, Credentials: f.store, Now: f.clock.Now})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	do := func(addr, secret string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr + ":999"
		r.Header.Set("Authorization", "Basic "+basic(testClientID, secret))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	// One address: ten failures, then 429 even with the right secret.
	for i := range auth.DefaultMaxFailures {
		if w := do("198.51.100.1", "wrong"); w.Code != 401 {
			t.Fatalf("failure %d: %d", i+1, w.Code)
		}
	}
	if w := do("198.51.100.1", testSecret); w.Code != 429 || w.Header().Get("Retry-After") != "60" {
		t.Fatalf("blocked address, right secret: %d %q", w.Code, w.Header().Get("Retry-After"))
	}
	// Many addresses: the id is over its limit, so each further failure is 429 ...
	for i := range 30 {
		if w := do(fmt.Sprintf("198.51.100.%d", i+2), "wrong"); w.Code != 429 || w.Header().Get("Retry-After") == "" {
			t.Fatalf("spray %d: %d", i, w.Code)
		}
	}
	// ... and the real client with the correct secret still gets in.
	if w := do("203.0.113.9", testSecret); w.Code != 200 {
		t.Fatalf("real client, fresh address, right secret: %d", w.Code)
	}
	f.clock.Advance(time.Minute)
	if w := do("198.51.100.1", testSecret); w.Code != 200 {
		t.Fatalf("after the window: %d", w.Code)
	}
}
