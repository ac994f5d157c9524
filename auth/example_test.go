package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/switchboard-rtc/switchboard/auth"
)

// Mint a user token for a browser and verify it as signaling would.
func ExampleIssuer_Mint() {
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})

	tok, _, err := iss.Mint(context.Background(), auth.TokenRequest{
		Identity: "alice",
		Grants:   auth.Grants{Outgoing: true, Incoming: true, Publish: []auth.Media{auth.MediaAudio}},
	})
	if err != nil {
		panic(err)
	}
	c, err := ver.Verify(context.Background(), tok)
	fmt.Println(c.Subject, c.Grants.Outgoing, c.Grants.CanPublish(auth.MediaVideo), err)
	// Output: alice true false <nil>
}

// Serve the OAuth2 client-credentials endpoint and ask it for a token.
func ExampleTokenHandler() {
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	client, _ := auth.NewClient("acme-backend", "a-long-random-secret", "acct-acme")
	th, _ := auth.NewTokenHandler(auth.TokenHandlerConfig{Issuer: iss, Credentials: auth.NewMemoryCredentialStore(client)})

	mux := http.NewServeMux()
	mux.Handle("POST /oauth2/token", th)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest("POST", srv.URL+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("acme-backend", "a-long-random-secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer res.Body.Close()
	fmt.Println(res.StatusCode, res.Header.Get("Cache-Control"))
	// Output: 200 no-store
}

// Protect a REST route: Bearer tokens or the account's API credentials.
func ExampleNewMiddleware() {
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	client, _ := auth.NewClient("acme-backend", "a-long-random-secret", "acct-acme")
	protect := auth.NewMiddleware(auth.MiddlewareConfig{
		Verifier: ver, Credentials: auth.NewMemoryCredentialStore(client), Require: []auth.Grant{auth.GrantAdmin},
	})
	h := protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := auth.FromContext(r.Context())
		fmt.Fprintln(w, "hello", c.Account)
	}))
	r := httptest.NewRequest("GET", "/v1/sessions", nil)
	r.SetBasicAuth("acme-backend", "a-long-random-secret")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Print(w.Code, " ", w.Body.String())
	// Output: 200 hello acct-acme
}

// Mount the tokens API at /v1/tokens: its paths are relative to the API
// root, so the host strips /v1 and names only the subtree.
func ExampleTokensAPI() {
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	replay := auth.NewMemoryReplayCache(auth.MemoryReplayCacheConfig{})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: replay})
	client, _ := auth.NewClient("acme-backend", "a-long-random-secret", "acct-acme")
	admin := auth.NewMiddleware(auth.MiddlewareConfig{
		Verifier: ver, Credentials: auth.NewMemoryCredentialStore(client), Require: []auth.Grant{auth.GrantAdmin},
	})
	tokens, _ := auth.NewTokensAPI(auth.TokensAPIConfig{Issuer: iss, Replay: replay})
	mux := http.NewServeMux()
	mux.Handle("/v1/tokens", admin(http.StripPrefix("/v1", tokens)))
	mux.Handle("/v1/tokens/", admin(http.StripPrefix("/v1", tokens)))

	r := httptest.NewRequest("POST", "/v1/tokens", strings.NewReader(`{"identity":"alice","grants":{"incoming":true}}`))
	r.SetBasicAuth("acme-backend", "a-long-random-secret")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	var res auth.UserTokenResponse
	_ = json.Unmarshal(w.Body.Bytes(), &res)
	c, _ := ver.Verify(context.Background(), res.Token)
	fmt.Println(w.Code, c.Subject, c.Account, c.CanReceiveCalls())

	r = httptest.NewRequest("DELETE", "/v1/tokens/"+res.TokenID, nil)
	r.SetBasicAuth("acme-backend", "a-long-random-secret")
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	_, err := ver.Verify(context.Background(), res.Token)
	fmt.Println(w.Code, err)
	// Output:
	// 201 alice acct-acme true
	// 204 auth: token revoked
}

// Ask the token endpoint for a user token with a scope of capability
// strings: the token is for alice, with those grants and no admin grant,
// and the answer's scope says what was granted.
func ExampleTokenHandler_scope() {
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	client, _ := auth.NewClient("acme-backend", "a-long-random-secret", "acct-acme")
	th, _ := auth.NewTokenHandler(auth.TokenHandlerConfig{Issuer: iss, Credentials: auth.NewMemoryCredentialStore(client)})

	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"client.incoming?identity=alice room.join?name=hello"}}
	r := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("acme-backend", "a-long-random-secret")
	w := httptest.NewRecorder()
	th.ServeHTTP(w, r)

	var res auth.TokenResponse
	_ = json.Unmarshal(w.Body.Bytes(), &res)
	c, _ := ver.Verify(context.Background(), res.AccessToken)
	fmt.Println(res.Scope)
	fmt.Println(c.Subject, c.CanReceiveCalls(), c.CanCall(), c.CanJoin("hello"), c.IsAdmin())
	// Output:
	// client.incoming?identity=alice room.join?identity=alice&name=hello
	// alice true false true false
}

// Capability strings map onto grants, and back.
func ExampleParseCapabilities() {
	id, g, err := auth.ParseCapabilities([]string{"client.outgoing?identity=alice", "publish?media=AUDIO", "data"})
	fmt.Println(id, g.Outgoing, g.Publish, g.Data, err)
	fmt.Println(auth.FormatCapabilities(id, g))
	// Output:
	// alice true [AUDIO] true <nil>
	// [client.outgoing?identity=alice publish?identity=alice&media=AUDIO data?identity=alice]
}
