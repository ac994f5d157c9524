package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/auth"
)

// FuzzVerify: no input makes Verify panic or accept a token it did not sign.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f, auth.ES256)
	good, _, _ := fx.issuer.Mint(context.Background(), auth.TokenRequest{Identity: "alice"})
	f.Add(good)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.")
	f.Add(good[:len(good)-2] + "AA")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := fx.verify.Verify(context.Background(), tok)
		if err == nil && tok != good {
			// A different string may only verify if it decodes to the same signed bytes.
			if c.Subject != "alice" {
				t.Fatalf("accepted a forged token %q", tok)
			}
		}
		if err != nil && errors.Is(err, auth.ErrReplayCacheFull) {
			t.Fatal("unexpected cache error")
		}
	})
}

// FuzzTokenForm: the endpoint answers every body with 200/4xx JSON, never a panic or 5xx.
func FuzzTokenForm(f *testing.F) {
	fx := newFixture(f, auth.ES256)
	fx.handler, _ = auth.NewTokenHandler(auth.TokenHandlerConfig{Issuer: fx.issuer, Credentials: fx.store, MaxFailures: 1 << 30})
	for _, s := range []string{
		"grant_type=client_credentials", "grant_type=client_credentials&scope=calls",
		"grant_type=client_credentials&grant_type=x", "%", "scope=%zz", "a=b;c=d", "&&&=", "grant_type=client_credentials&scope=+",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(testClientID, testSecret)
		w := httptest.NewRecorder()
		fx.handler.ServeHTTP(w, r)
		if w.Code >= 500 || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("body %q: status %d", body, w.Code)
		}
	})
}
