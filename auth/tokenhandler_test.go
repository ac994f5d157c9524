package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
)

type tokenCall struct {
	method, contentType, body string
	user, pass                string
	basic                     bool
}

func (f *fixture) call(tc tokenCall) *httptest.ResponseRecorder {
	if tc.method == "" {
		tc.method = http.MethodPost
	}
	r := httptest.NewRequest(tc.method, "/oauth2/token", strings.NewReader(tc.body))
	if tc.contentType != "" {
		r.Header.Set("Content-Type", tc.contentType)
	}
	if tc.basic {
		r.SetBasicAuth(tc.user, tc.pass)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

const form = "application/x-www-form-urlencoded"

// Every error path of the token endpoint, with exact status, headers and body.
func TestTokenEndpointErrors(t *testing.T) {
	ok := tokenCall{contentType: form, body: "grant_type=client_credentials", user: testClientID, pass: testSecret, basic: true}
	mod := func(m func(*tokenCall)) tokenCall { c := ok; m(&c); return c }
	cases := []struct {
		name       string
		call       tokenCall
		status     int
		errCode    string
		wantHeader map[string]string
	}{
		{"wrong method", mod(func(c *tokenCall) { c.method = http.MethodGet }), 405, "invalid_request", map[string]string{"Allow": "POST"}},
		{"wrong content type", mod(func(c *tokenCall) { c.contentType = "application/json" }), 400, "invalid_request", nil},
		{"no content type", mod(func(c *tokenCall) { c.contentType = "" }), 400, "invalid_request", nil},
		{"body over 4 KiB", mod(func(c *tokenCall) { c.body = "grant_type=client_credentials&x=" + strings.Repeat("a", 4096) }), 413, "invalid_request", nil},
		{"malformed form", mod(func(c *tokenCall) { c.body = "grant_type=%zz" }), 400, "invalid_request", nil},
		{"repeated parameter", mod(func(c *tokenCall) { c.body = "grant_type=client_credentials&grant_type=client_credentials" }), 400, "invalid_request", nil},
		{"no Basic credentials", mod(func(c *tokenCall) { c.basic = false }), 401, "invalid_client", map[string]string{"WWW-Authenticate": `Basic realm="switchboard", charset="UTF-8"`}},
		{"wrong secret", mod(func(c *tokenCall) { c.pass = "wrong" }), 401, "invalid_client", map[string]string{"WWW-Authenticate": `Basic realm="switchboard", charset="UTF-8"`}},
		{"unknown client", mod(func(c *tokenCall) { c.user = "nobody" }), 401, "invalid_client", map[string]string{"WWW-Authenticate": `Basic realm="switchboard", charset="UTF-8"`}},
		{"missing grant_type", mod(func(c *tokenCall) { c.body = "scope=calls" }), 400, "invalid_request", nil},
		{"password grant", mod(func(c *tokenCall) { c.body = "grant_type=password" }), 400, "unsupported_grant_type", nil},
		{"scope not allowed", mod(func(c *tokenCall) { c.body = "grant_type=client_credentials&scope=calls+admin" }), 400, "invalid_scope", nil},
		{"empty scope", mod(func(c *tokenCall) { c.body = "grant_type=client_credentials&scope=" }), 400, "invalid_scope", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, auth.ES256)
			w := f.call(tc.call)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body not JSON: %q", w.Body)
			}
			if body["error"] != tc.errCode || body["error_description"] == "" || len(body) != 2 {
				t.Fatalf("body %v, want error %q with a description", body, tc.errCode)
			}
			if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", w.Header())
			}
			for k, v := range tc.wantHeader {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if strings.Contains(w.Body.String(), testSecret) || strings.Contains(w.Body.String(), "wrong") && tc.name == "wrong secret" {
				t.Error("body echoes a secret")
			}
			if st := f.handler.Stats(); st.Issued != 0 || len(st.Refused) != 1 || st.Refused[tc.errCode] != 1 {
				t.Errorf("stats %+v, want one refusal %s", st, tc.errCode)
			}
		})
	}
}

func TestTokenEndpointSuccess(t *testing.T) {
	f := newFixture(t, auth.ES256)
	// Body exactly at the 4 KiB limit is accepted.
	body := "grant_type=client_credentials&pad="
	body += strings.Repeat("a", auth.MaxTokenRequestBody-len(body))
	w := f.call(tokenCall{contentType: form + "; charset=utf-8", body: body, user: testClientID, pass: testSecret, basic: true})
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Error("missing Cache-Control: no-store")
	}
	var res auth.TokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.TokenType != "Bearer" || res.ExpiresIn != 600 || res.Scope != "calls sessions" {
		t.Fatalf("response %+v", res)
	}
	c, err := f.verify.Verify(context.Background(), res.AccessToken)
	if err != nil || c.ID != res.AccessTokenID {
		t.Fatalf("verify: %v, jti %v vs %s", err, c, res.AccessTokenID)
	}
}

// MaxFailures failures are answered 401; the next attempt (even with the
// right secret) is 429 with Retry-After until the window ends.
func TestTokenEndpointRateLimit(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		f := newFixture(t, auth.ES256)
		good := tokenCall{contentType: form, body: "grant_type=client_credentials", user: testClientID, pass: testSecret, basic: true}
		for i := range auth.DefaultMaxFailures {
			bad := good
			bad.user = "unknown-" + strings.Repeat("x", i+1) // different client ids: only the address limit applies
			if w := f.call(bad); w.Code != 401 {
				t.Fatalf("failure %d: status %d", i+1, w.Code)
			}
		}
		w := f.call(good)
		if w.Code != 429 || w.Header().Get("Retry-After") != "60" {
			t.Fatalf("after %d failures: status %d Retry-After %q", auth.DefaultMaxFailures, w.Code, w.Header().Get("Retry-After"))
		}
		f.clock.Advance(59 * time.Second)
		if w := f.call(good); w.Code != 429 || w.Header().Get("Retry-After") != "1" {
			t.Fatalf("1 s before the window ends: %d %q", w.Code, w.Header().Get("Retry-After"))
		}
		f.clock.Advance(time.Second)
		if w := f.call(good); w.Code != 200 {
			t.Fatalf("after the window: status %d", w.Code)
		}
	})
	t.Run("per client id: no lockout", func(t *testing.T) {
		f := newFixture(t, auth.ES256)
		r := func(secret, addr string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
			req.Header.Set("Content-Type", form)
			req.SetBasicAuth(testClientID, secret)
			req.RemoteAddr = addr + ":1234"
			w := httptest.NewRecorder()
			f.handler.ServeHTTP(w, req)
			return w
		}
		// An attacker sprays wrong secrets for the id from many addresses.
		for i := range auth.DefaultMaxFailures {
			if w := r("wrong-password", fmt.Sprintf("10.0.0.%d", i)); w.Code != 401 {
				t.Fatalf("failure %d: %d", i+1, w.Code)
			}
		}
		// Past the id's limit every further failure blocks its address at once.
		for i := range 20 {
			addr := fmt.Sprintf("10.0.1.%d", i)
			w := r("wrong-password", addr)
			if w.Code != 429 || w.Header().Get("Retry-After") != "60" {
				t.Fatalf("failure past the id's limit from %s: %d Retry-After %q", addr, w.Code, w.Header().Get("Retry-After"))
			}
			// The attacker's address is refused whatever it sends, the right secret included.
			if w := r(testSecret, addr); w.Code != 429 || w.Header().Get("Retry-After") != "60" {
				t.Fatalf("blocked attacker address: %d", w.Code)
			}
		}
		// The real client, with the correct secret, is never locked out.
		for _, addr := range []string{"192.0.2.77", "192.0.2.78"} {
			if w := r(testSecret, addr); w.Code != 200 {
				t.Fatalf("real client from %s: %d %s", addr, w.Code, w.Body)
			}
		}
		// When the window ends the attacker's addresses may try again.
		f.clock.Advance(time.Minute)
		if w := r("wrong-password", "10.0.1.0"); w.Code != 401 {
			t.Fatalf("after the window: %d", w.Code)
		}
	})
}
