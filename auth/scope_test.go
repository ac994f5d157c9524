package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/switchboard-rtc/switchboard/auth"
)

// A real OAuth2 client asks for capability scopes and gets a user token for
// that identity: the grants asked for, no admin grant, and a scope field
// saying what was granted.
func TestTokenEndpointScopedUserToken(t *testing.T) {
	f := newFixture(t, auth.ES256)
	srv := httptest.NewServer(f.handler)
	defer srv.Close()
	f.clock.Set(time.Now()) // the oauth2 library checks expiry against time.Now

	cc := clientcredentials.Config{
		ClientID: testClientID, ClientSecret: testSecret, TokenURL: srv.URL, AuthStyle: oauth2.AuthStyleInHeader,
		Scopes: []string{
			"client.outgoing?identity=alice", "client.incoming?identity=alice",
			"room.join?name=hello", "room.join?name=team%20room", "publish?media=AUDIO", "data",
		},
	}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	c, err := f.verify.Verify(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if c.Subject != "alice" || c.Account != "acct-1" {
		t.Fatalf("identity %q account %q", c.Subject, c.Account)
	}
	if c.IsAdmin() || c.Grants.Admin {
		t.Fatal("a scoped token carries the admin grant")
	}
	if !c.CanCall() || !c.CanReceiveCalls() || !c.CanJoin("hello") || !c.CanJoin("team room") || c.CanJoin("other") ||
		!c.CanPublish(auth.MediaAudio) || c.CanPublish(auth.MediaVideo) || !c.CanSendData() {
		t.Fatalf("grants %+v", c.Grants)
	}
	wantScope := "client.outgoing?identity=alice client.incoming?identity=alice room.join?identity=alice&name=hello " +
		"room.join?identity=alice&name=team+room publish?identity=alice&media=AUDIO data?identity=alice"
	if got, _ := tok.Extra("scope").(string); got != wantScope {
		t.Errorf("response scope\n got %q\nwant %q", got, wantScope)
	}
	if c.Scope != wantScope {
		t.Errorf("token scope %q", c.Scope)
	}
	// The granted scope, asked for again, grants the same.
	cc.Scopes = strings.Split(wantScope, " ")
	tok2, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tok2.Extra("scope").(string); got != wantScope {
		t.Errorf("round trip scope %q", got)
	}

	// A scoped token is refused by routes that need an admin.
	h := auth.Middleware(f.verify, auth.GrantAdmin)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/v1/sessions", nil)
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Fatalf("admin route with a scoped token: %d", w.Code)
	}
}

// Unknown, malformed, mixed or disagreeing scopes are 400 invalid_scope with
// an RFC 6749 §5.2 body; no scope keeps the API (admin) token.
func TestTokenEndpointScopeErrors(t *testing.T) {
	f := newFixture(t, auth.ES256)
	srv := httptest.NewServer(f.handler)
	defer srv.Close()
	f.clock.Set(time.Now())
	for _, scopes := range [][]string{
		{"teleport"},
		{"client.teleport?identity=alice"},
		{"client.outgoing?identity=alice", "client.incoming?identity=bob"},
		{"client.outgoing"},                     // no identity
		{"room.join?name=hello", "data"},        // no identity anywhere
		{"client.outgoing?identity=\u0430lice"}, // Cyrillic look-alike
		{"calls", "client.outgoing?identity=alice"},
		{"room.join?name=a%E2%80%AEb&identity=alice"},
		{"publish?media=SMELL&identity=alice"},
		{"admin?identity=alice"},
	} {
		cc := clientcredentials.Config{ClientID: testClientID, ClientSecret: testSecret, TokenURL: srv.URL, AuthStyle: oauth2.AuthStyleInHeader, Scopes: scopes}
		_, err := cc.Token(context.Background())
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_scope" || re.Response.StatusCode != 400 || re.ErrorDescription == "" {
			t.Errorf("scope %q: %v", scopes, err)
		}
	}
	// An empty scope parameter is invalid too.
	w := f.call(tokenCall{contentType: form, body: "grant_type=client_credentials&scope=", user: testClientID, pass: testSecret, basic: true})
	var body map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != 400 || body["error"] != "invalid_scope" {
		t.Errorf("empty scope: %d %s", w.Code, w.Body)
	}
	// No scope: the API token, admin of the account, carrying the client's registered scopes.
	w = f.call(tokenCall{contentType: form, body: "grant_type=client_credentials", user: testClientID, pass: testSecret, basic: true})
	var res auth.TokenResponse
	_ = json.Unmarshal(w.Body.Bytes(), &res)
	c, err := f.verify.Verify(context.Background(), res.AccessToken)
	if err != nil || !c.IsAdmin() || c.Subject != testClientID || res.Scope != "calls sessions" {
		t.Fatalf("API token: %v %+v %+v", err, c, res)
	}
}

// Basic credentials are read raw (curl -u) and form-decoded (RFC 6749
// §2.3.1, what OAuth2 libraries send), so ids and secrets with '+' or '%'
// work both ways; a wrong secret fails both ways.
func TestBasicCredentialsEncoding(t *testing.T) {
	f := newFixture(t, auth.ES256)
	const id, secret = "acme+ops.backend", "p+ss%41word%2Bwith enough bytes"
	client, err := auth.NewClient(id, secret, "acct-2")
	if err != nil {
		t.Fatal(err)
	}
	f.store.Add(client)
	srv := httptest.NewServer(f.handler)
	defer srv.Close()
	f.clock.Set(time.Now())

	// golang.org/x/oauth2 URL-escapes id and secret.
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: srv.URL, AuthStyle: oauth2.AuthStyleInHeader}
	if _, err := cc.Token(context.Background()); err != nil {
		t.Fatalf("oauth2 client: %v", err)
	}
	// curl -u sends them as they are.
	raw := func(user, pass string) int {
		r, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("grant_type=client_credentials"))
		r.Header.Set("Content-Type", form)
		r.SetBasicAuth(user, pass)
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := raw(id, secret); code != 200 {
		t.Fatalf("raw Basic (curl -u): %d", code)
	}
	if code := raw(url.QueryEscape(id), url.QueryEscape(secret)); code != 200 {
		t.Fatalf("form-encoded Basic: %d", code)
	}
	for _, wrong := range []string{secret + "x", url.QueryEscape(secret + "x"), "p ssAword+with enough bytes"} {
		if code := raw(id, wrong); code != 401 {
			t.Errorf("wrong secret %q: %d", wrong, code)
		}
	}
	cc.ClientSecret = secret + "x"
	var re *oauth2.RetrieveError
	if _, err := cc.Token(context.Background()); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Errorf("oauth2 client, wrong secret: %v", err)
	}
	// The same in Middleware.
	h := auth.NewMiddleware(auth.MiddlewareConfig{Verifier: f.verify, Credentials: f.store})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, pair := range [][2]string{{id, secret}, {url.QueryEscape(id), url.QueryEscape(secret)}} {
		r := httptest.NewRequest("GET", "/", nil)
		r.SetBasicAuth(pair[0], pair[1])
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Errorf("middleware %q: %d", pair, w.Code)
		}
	}
}

// Generated secrets use only unreserved characters: form-encoding leaves them unchanged.
func TestNewSecretAlphabet(t *testing.T) {
	for range 200 {
		s, err := auth.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != 43 || url.QueryEscape(s) != s || strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("secret %q", s)
		}
	}
}

// TokenFromRequest reads the Bearer header, and the query parameter only where allowed.
func TestTokenFromRequest(t *testing.T) {
	cases := []struct {
		name, header, query string
		allowQuery          bool
		want                string
		ok                  bool
	}{
		{"bearer", "Bearer abc", "", false, "abc", true},
		{"scheme is case-insensitive", "bearer  abc ", "", false, "abc", true},
		{"empty bearer", "Bearer ", "", false, "", false},
		{"basic is not a token", "Basic YTpi", "", false, "", false},
		{"query not allowed", "", "abc", false, "", false},
		{"query allowed", "", "abc", true, "abc", true},
		{"both ways at once", "Bearer abc", "abc", true, "", false},
		{"query ignored where not allowed", "Bearer abc", "xyz", false, "abc", true},
		{"nothing", "", "", true, "", false},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "/v1/signal", nil)
		if tc.query != "" {
			r.URL.RawQuery = url.Values{"access_token": {tc.query}}.Encode()
		}
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		got, ok := auth.TokenFromRequest(r, tc.allowQuery)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %q %v, want %q %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// API scopes of a client can never be mistaken for capabilities.
func TestNewClientScopes(t *testing.T) {
	for _, sc := range []string{"calls", "sessions.write", strings.Repeat("s", 64)} {
		if _, err := auth.NewClient("acme", testSecret, "a", sc); err != nil {
			t.Errorf("scope %q: %v", sc, err)
		}
	}
	for _, sc := range []string{"", "data", "room.join", "client.outgoing", "publish", "a?b", "a&b", "a b", "ü", strings.Repeat("s", 65)} {
		if _, err := auth.NewClient("acme", testSecret, "a", sc); err == nil {
			t.Errorf("scope %q accepted", sc)
		}
	}
}
