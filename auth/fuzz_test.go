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

// FuzzBasicHeader: any Authorization header, at the token endpoint and in
// Middleware, is answered without a panic or a 5xx, and is admitted only
// when its Basic credentials, read raw or form-decoded, are the client's.
func FuzzBasicHeader(f *testing.F) {
	fx := newFixture(f, auth.ES256)
	th, _ := auth.NewTokenHandler(auth.TokenHandlerConfig{Issuer: fx.issuer, Credentials: fx.store, MaxFailures: 1 << 30})
	mw := auth.NewMiddleware(auth.MiddlewareConfig{Verifier: fx.verify, Credentials: fx.store, MaxFailures: 1 << 30})(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, h := range []string{
		"Basic " + basic(testClientID, testSecret),
		"Basic " + basic(url.QueryEscape(testClientID), url.QueryEscape(testSecret)),
		"Basic " + basic(testClientID, "wrong"),
		"Basic " + basic("", testSecret),
		"Basic " + basic(testClientID+"%", testSecret+"%zz"),
		"Basic !!!", "Basic", "basic " + basic(testClientID, testSecret), "Bearer x.y.z", "Digest a=b", "",
	} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		correct := false
		probe := httptest.NewRequest("GET", "/", nil)
		probe.Header.Set("Authorization", h)
		if id, secret, ok := probe.BasicAuth(); ok {
			did, _ := url.QueryUnescape(id)
			dsecret, _ := url.QueryUnescape(secret)
			correct = (id == testClientID || did == testClientID) && (secret == testSecret || dsecret == testSecret)
		}
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", h)
		w := httptest.NewRecorder()
		th.ServeHTTP(w, r)
		if w.Code >= 500 || (w.Code == 200) != correct {
			t.Fatalf("token endpoint, header %q: %d (correct credentials: %v)", h, w.Code, correct)
		}
		r = httptest.NewRequest("GET", "/v1/sessions", nil)
		r.Header.Set("Authorization", h)
		w = httptest.NewRecorder()
		mw.ServeHTTP(w, r)
		if w.Code >= 500 || (w.Code == 200 && !correct && !strings.HasPrefix(strings.ToLower(h), "bearer")) {
			t.Fatalf("middleware, header %q: %d", h, w.Code)
		}
	})
}

// FuzzTokensAPI: any body of POST /v1/tokens (grants, capabilities) gets
// 201 or a 4xx JSON error; a minted token verifies, has no admin grant
// unless asked for in grants, an ASCII identity and safe room names.
func FuzzTokensAPI(f *testing.F) {
	fx := newFixture(f, auth.ES256)
	h := fx.tokensAPI(f)
	for _, b := range []string{
		`{"identity":"alice","displayName":"Alice","grants":{"outgoing":true,"publish":["AUDIO"],"rooms":["hello"]},"ttl":300}`,
		`{"capabilities":["client.outgoing?identity=Bert","client.incoming?identity=Bert"]}`,
		`{"capabilities":["client.incoming?identity=Bert","room.join?name=hello","publish?media=VIDEO","data"]}`,
		`{"identity":"Bert","capabilities":["room.join?name=%2A"],"singleUse":true}`,
		`{"identity":"alice","identity":"bob"}`, `{"Identity":"alice"}`, `{"identity":"\u0430lice"}`,
		`{"identity":"alice","grants":{"rooms":["a\u202eb"]}}`, `{"capabilities":["room.join?name=a%E2%80%AEb&identity=x"]}`,
		`{"identity":"alice","ttl":-1}`, `[]`, `null`, `{`, ``,
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/tokens", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r = r.WithContext(auth.NewContext(r.Context(), &auth.Claims{Subject: testClientID, Account: "acct-1", Grants: auth.Grants{Admin: true}}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var res struct {
			Token string `json:"token"`
			Code  string `json:"code"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("body %q: %d, not JSON: %s", body, w.Code, w.Body)
		}
		switch {
		case w.Code == http.StatusCreated:
			c, err := fx.verify.Verify(context.Background(), res.Token)
			if err != nil || c.Account != "acct-1" || !auth.ValidIdentity(c.Subject) {
				t.Fatalf("body %q: minted token: %v %+v", body, err, c)
			}
			for _, room := range c.Grants.Rooms {
				if !auth.ValidRoomName(room) {
					t.Fatalf("body %q: room grant %q", body, room)
				}
			}
			if c.Grants.Admin && !strings.Contains(body, "admin") && !strings.Contains(body, `\u`) {
				t.Fatalf("body %q: admin grant not asked for", body)
			}
		case w.Code >= 400 && w.Code < 500 && res.Code != "":
		default:
			t.Fatalf("body %q: %d %s", body, w.Code, w.Body)
		}
	})
}
