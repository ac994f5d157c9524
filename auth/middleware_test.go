package auth_test

import (
	"context"
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
	loose := auth.NewMiddleware(auth.MiddlewareConfig{Verifier: f.verify, Credentials: f.store, AllowQueryToken: true, Clock: f.clock})(echo)

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

// Failed Basic attempts: the failing address is limited (401 ten times,
// then 429); the client id counts failures only, so an attacker spraying
// wrong secrets from many addresses never locks the real client out.
func TestMiddlewareBasicLimit(t *testing.T) {
	f := newFixture(t, auth.ES256)
	h := auth.NewMiddleware(auth.MiddlewareConfig{Verifier: f.verify, Credentials: f.store, Clock: f.clock})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
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

// UserAccount admits users and refuses everyone else with the codes of
// HTTPStatus: no claims 401, admin tokens, API credentials and claims
// that name no user 403.
func TestUserAccount(t *testing.T) {
	for _, tc := range []struct {
		name    string
		claims  *auth.Claims
		account string
		status  int
		code    string
	}{
		{"user", &auth.Claims{Subject: "alice", Account: "acct-1"}, "acct-1", 0, ""},
		{"user without grants", &auth.Claims{Subject: "bob", Account: "acct-2", Grants: auth.Grants{Outgoing: true}}, "acct-2", 0, ""},
		{"no claims", nil, "", 401, "unauthorized"},
		{"admin token", &auth.Claims{Subject: "ops-1", Account: "acct-1", Grants: auth.Grants{Admin: true}}, "", 403, "forbidden"},
		{"no account", &auth.Claims{Subject: "alice"}, "", 403, "forbidden"},
		{"invalid identity", &auth.Claims{Subject: "a b", Account: "acct-1"}, "", 403, "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.claims != nil {
				r = r.WithContext(auth.NewContext(r.Context(), tc.claims))
			}
			account, err := auth.UserAccount(r)
			if tc.status == 0 {
				if err != nil || account != tc.account {
					t.Fatalf("got %q %v, want %q", account, err, tc.account)
				}
				return
			}
			status, code, _ := auth.HTTPStatus(err)
			if account != "" || status != tc.status || code != tc.code {
				t.Fatalf("got %q %d %s (%v), want %d %s", account, status, code, err, tc.status, tc.code)
			}
		})
	}
}
