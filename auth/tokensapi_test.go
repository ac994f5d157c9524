package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
)

// tokensAPI is the fixture's tokens API, revoking into its replay cache on its clock.
func (f *fixture) tokensAPI(t testing.TB) *auth.TokensAPI {
	t.Helper()
	api, err := auth.NewTokensAPI(auth.TokensAPIConfig{Issuer: f.issuer, Replay: f.replay, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func TestTokensAPI(t *testing.T) {
	f := newFixture(t, auth.ES256)
	h := auth.NewMiddleware(auth.MiddlewareConfig{Verifier: f.verify, Credentials: f.store, Require: []auth.Grant{auth.GrantAdmin}})(http.StripPrefix("/v1", f.tokensAPI(t)))
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

func TestTokensAPIRevoke(t *testing.T) {
	f := newFixture(t, auth.ES256)
	ctx := context.Background()
	tok, c, _ := f.issuer.Mint(ctx, auth.TokenRequest{Identity: "alice", Account: "acct-1"})
	other, oc, _ := f.issuer.Mint(ctx, auth.TokenRequest{Identity: "alice", Account: "acct-2"})
	mux := http.NewServeMux()
	mux.Handle("/v1/tokens/", auth.NewMiddleware(auth.MiddlewareConfig{Verifier: f.verify, Credentials: f.store})(http.StripPrefix("/v1", f.tokensAPI(t))))
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
	// An admin of acct-1 cannot revoke acct-2's token, even knowing its id:
	// the answer is the same 204 as for any unknown id, and nothing changes.
	if code := do("Basic "+basic(testClientID, testSecret), oc.ID); code != 204 {
		t.Fatalf("revoke another account's id: %d", code)
	}
	if _, err := f.verify.Verify(ctx, other); err != nil {
		t.Fatalf("another account's token was revoked: %v", err)
	}
}

// The tokens API serves paths relative to the API root, so it works under
// any prefix the host strips and needs no route pattern of the host's: here
// at /rtc/v1 in a host mux that names only the subtree, and at the root.
// A revocation lasts until the longest token could have expired.
func TestTokensAPIMountedAnywhere(t *testing.T) {
	f := newFixture(t, auth.ES256)
	ctx := context.Background()
	admin := auth.NewMiddleware(auth.MiddlewareConfig{Verifier: f.verify, Credentials: f.store, Clock: f.clock})
	host := http.NewServeMux()
	mounted := admin(http.StripPrefix("/rtc/v1", f.tokensAPI(t)))
	host.Handle("/rtc/v1/tokens", mounted)
	host.Handle("/rtc/v1/tokens/", mounted)
	for _, tc := range []struct {
		name, prefix string
		h            http.Handler
	}{
		{"under /rtc/v1", "/rtc/v1", host},
		{"at the root", "", admin(f.tokensAPI(t))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			do := func(method, path, body string) *httptest.ResponseRecorder {
				r := httptest.NewRequest(method, tc.prefix+path, strings.NewReader(body))
				r.Header.Set("Authorization", "Basic "+basic(testClientID, testSecret))
				w := httptest.NewRecorder()
				tc.h.ServeHTTP(w, r)
				return w
			}
			w := do("POST", "/tokens", `{"identity":"alice"}`)
			var res auth.UserTokenResponse
			if err := json.Unmarshal(w.Body.Bytes(), &res); w.Code != 201 || err != nil {
				t.Fatalf("mint: %d %s", w.Code, w.Body)
			}
			if w := do("DELETE", "/tokens/"+res.TokenID, ""); w.Code != 204 {
				t.Fatalf("revoke: %d %s", w.Code, w.Body)
			}
			if _, err := f.verify.Verify(ctx, res.Token); !errors.Is(err, auth.ErrRevoked) {
				t.Fatalf("after revocation: %v", err)
			}
			for _, miss := range []struct {
				method, path string
				status       int
				code, allow  string
			}{
				{"GET", "/tokens", 405, "method_not_allowed", "POST"},
				{"PUT", "/tokens/" + res.TokenID, 405, "method_not_allowed", "DELETE"},
				{"DELETE", "/tokens/a/b", 404, "route_not_found", ""},
				{"DELETE", "/tokens/" + strings.Repeat("j", 129), 400, "invalid_request", ""},
			} {
				w := do(miss.method, miss.path, "")
				if w.Code != miss.status || w.Header().Get("Allow") != miss.allow || !strings.Contains(w.Body.String(), `"code":"`+miss.code+`"`) {
					t.Errorf("%s %s: %d (Allow %q) %s", miss.method, miss.path, w.Code, w.Header().Get("Allow"), w.Body)
				}
			}
		})
	}
	// The revocation outlives the token: kept until MaxTTL from now.
	_, c, _ := f.issuer.Mint(ctx, auth.TokenRequest{Identity: "alice", Account: "acct-1", TTL: time.Minute})
	r := httptest.NewRequest("DELETE", "/tokens/"+c.ID, nil)
	r = r.WithContext(auth.NewContext(r.Context(), &auth.Claims{Subject: testClientID, Account: "acct-1", Grants: auth.Grants{Admin: true}}))
	w := httptest.NewRecorder()
	f.tokensAPI(t).ServeHTTP(w, r)
	if w.Code != 204 {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	f.clock.Advance(f.issuer.MaxTTL() - time.Second)
	if revoked, _ := f.replay.Revoked(ctx, auth.RevocationKey("acct-1", c.ID)); !revoked {
		t.Fatal("the revocation was forgotten before MaxTTL")
	}
	f.clock.Advance(time.Second)
	if revoked, _ := f.replay.Revoked(ctx, auth.RevocationKey("acct-1", c.ID)); revoked {
		t.Fatal("the revocation outlived MaxTTL")
	}
}

// The tokens API itself admits only admins (whatever sits in front of it):
// a user token's claims, or none at all, get 403 on every route, and
// nothing is minted or revoked.
func TestTokensAPIAdminOnly(t *testing.T) {
	f := newFixture(t, auth.ES256)
	ctx := context.Background()
	api := f.tokensAPI(t)
	_, victim, _ := f.issuer.Mint(ctx, auth.TokenRequest{Identity: "alice", Account: "acct-1"})
	user := &auth.Claims{Subject: "alice", Account: "acct-1", Grants: auth.Grants{Outgoing: true, Incoming: true, Data: true}}
	for _, c := range []*auth.Claims{user, nil} {
		for _, req := range []struct{ method, path, body string }{
			{"POST", "/tokens", `{"identity":"mallory","grants":{"admin":true}}`},
			{"DELETE", "/tokens/" + victim.ID, ""},
		} {
			r := httptest.NewRequest(req.method, req.path, strings.NewReader(req.body))
			if c != nil {
				r = r.WithContext(auth.NewContext(r.Context(), c))
			}
			w := httptest.NewRecorder()
			api.ServeHTTP(w, r)
			if w.Code != 403 || !strings.Contains(w.Body.String(), `"code":"forbidden"`) {
				t.Errorf("%s %s as %v: %d %s", req.method, req.path, c, w.Code, w.Body)
			}
		}
	}
	if revoked, _ := f.replay.Revoked(ctx, victim.ID); revoked {
		t.Fatal("a non-admin revoked a token")
	}
}
