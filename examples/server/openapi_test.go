package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// apiClient talks to the example over real HTTP and checks every response
// against docs/openapi.yaml.
type apiClient struct {
	t      *testing.T
	base   string
	user   string
	secret string
	router routers.Router
}

func newAPIClient(t *testing.T) *apiClient { return newAPIClientWith(t, nil) }

// newAPIClientWith is newAPIClient with the example's config changed by mod.
func newAPIClientWith(t *testing.T, mod func(*config)) *apiClient {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("docs/openapi.yaml is not valid OpenAPI: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{user: "demo-user", secret: "demo-secret-0123456789", iceIPs: []string{"127.0.0.1"}}
	if mod != nil {
		mod(&cfg)
	}
	a, err := newApp(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.handler)
	t.Cleanup(func() { srv.Close(); a.close() })
	return &apiClient{t: t, base: srv.URL, user: "demo-user", secret: "demo-secret-0123456789", router: router}
}

// do sends the request with the API credentials and validates request and
// response against the document.
func (c *apiClient) do(method, path, body string) (int, []byte) {
	c.t.Helper()
	return c.doAs("", method, path, body)
}

// doAs is do with a Bearer token ("": the API credentials).
func (c *apiClient) doAs(token, method, path, body string) (int, []byte) {
	c.t.Helper()
	status, b, _ := c.send(token, method, path, body, nil)
	return status, b
}

// doWith is do with more request headers; it returns the response's too.
func (c *apiClient) doWith(method, path, body string, header http.Header) (int, []byte, http.Header) {
	c.t.Helper()
	return c.send("", method, path, body, header)
}

func (c *apiClient) send(token, method, path, body string, header http.Header) (int, []byte, http.Header) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	} else {
		req.SetBasicAuth(c.user, c.secret)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	resBody, _ := io.ReadAll(res.Body)

	vreq, _ := http.NewRequest(method, "http://localhost"+path, strings.NewReader(body))
	vreq.Header = req.Header.Clone()
	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		c.t.Fatalf("%s %s is not in docs/openapi.yaml: %v", method, path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(resBody)),
		Options: in.Options, // read from here, not from the request's input: without it an undocumented status passes
	}); err != nil {
		c.t.Fatalf("%s %s → %d %.300q does not match docs/openapi.yaml: %v", method, path, res.StatusCode, resBody, err)
	}
	return res.StatusCode, resBody, res.Header
}

func (c *apiClient) expect(method, path, body string, status int) []byte {
	c.t.Helper()
	return c.expectAs("", method, path, body, status)
}

func (c *apiClient) expectAs(token, method, path, body string, status int) []byte {
	c.t.Helper()
	got, b := c.doAs(token, method, path, body)
	if got != status {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, got, b, status)
	}
	return b
}

// The REST flow: create a session, two participants, add both, set
// participant-level subscriptions, read them back, remove one; the 21st
// participant is refused. Every response matches the OpenAPI document.
func TestRESTFlowMatchesOpenAPI(t *testing.T) {
	c := newAPIClient(t)
	var sess struct{ ID string }
	_ = json.Unmarshal(c.expect("POST", "/v1/sessions", `{"tag":"support"}`, 201), &sess)

	type created struct {
		Participant struct{ ID string }
		Token       string
	}
	var a, b created
	_ = json.Unmarshal(c.expect("POST", "/v1/participants", `{"tag":"agent","publishPermissions":["AUDIO","VIDEO"]}`, 201), &a)
	_ = json.Unmarshal(c.expect("POST", "/v1/participants", `{"identity":"bob","publishPermissions":["AUDIO"]}`, 201), &b)
	if a.Token == "" || a.Participant.ID == "" {
		t.Fatal("participant without token")
	}
	c.expect("PUT", "/v1/sessions/"+sess.ID+"/participants/"+a.Participant.ID, "", 204)
	c.expect("PUT", "/v1/sessions/"+sess.ID+"/participants/"+b.Participant.ID, `{"subscriptions":{"sessionId":"`+sess.ID+`"}}`, 204)

	subs := `{"participants":[{"participantId":"` + b.Participant.ID + `","streamAliases":["microphone"]}]}`
	c.expect("PUT", "/v1/sessions/"+sess.ID+"/participants/"+a.Participant.ID+"/subscriptions", subs, 204)
	got := c.expect("GET", "/v1/sessions/"+sess.ID+"/participants/"+a.Participant.ID+"/subscriptions", "", 200)
	if strings.TrimSpace(string(got)) != subs {
		t.Fatalf("subscriptions read back %s, want %s", got, subs)
	}
	var members []struct{ ID string }
	_ = json.Unmarshal(c.expect("GET", "/v1/sessions/"+sess.ID+"/participants", "", 200), &members)
	if len(members) != 2 {
		t.Fatalf("members %v", members)
	}
	c.expect("GET", "/v1/participants/"+b.Participant.ID, "", 200)
	c.expect("DELETE", "/v1/sessions/"+sess.ID+"/participants/"+b.Participant.ID, "", 204)
	c.expect("GET", "/v1/sessions/"+sess.ID+"/participants/"+b.Participant.ID+"/subscriptions", "", 404)
	c.expect("PUT", "/v1/sessions/"+sess.ID+"/participants/"+a.Participant.ID+"/subscriptions", "", 204) // empty removes all
	if got := c.expect("GET", "/v1/sessions/"+sess.ID+"/participants/"+a.Participant.ID+"/subscriptions", "", 200); strings.TrimSpace(string(got)) != "{}" {
		t.Fatalf("after empty PUT: %s", got)
	}

	// Fill the session to 20, then the 21st is refused with 409 session_full.
	for range 19 {
		var p created
		_ = json.Unmarshal(c.expect("POST", "/v1/participants", `{}`, 201), &p)
		c.expect("PUT", "/v1/sessions/"+sess.ID+"/participants/"+p.Participant.ID, "", 204)
	}
	var p21 created
	_ = json.Unmarshal(c.expect("POST", "/v1/participants", `{}`, 201), &p21)
	if body := c.expect("PUT", "/v1/sessions/"+sess.ID+"/participants/"+p21.Participant.ID, "", 409); !strings.Contains(string(body), `"session_full"`) {
		t.Fatalf("21st: %s", body)
	}

	// Errors keep their documented shape.
	c.expect("POST", "/v1/sessions", `{"tag":"`+strings.Repeat("x", 51)+`"}`, 400)
	c.expect("POST", "/v1/sessions", `{"tag":"`+strings.Repeat("x", 50)+`"}`, 201)
	c.expect("POST", "/v1/participants", `{"colour":"red"}`, 400)
	c.expect("POST", "/v1/participants", `{"pad":"`+strings.Repeat("x", 64<<10)+`"}`, 413)
	c.expect("GET", "/v1/sessions/nope", "", 404)
	if got := c.expect("POST", "/v1/sessions/"+sess.ID+"/broadcast", `{"text":"nobody is connected"}`, 200); !strings.Contains(string(got), `"received":0`) {
		t.Fatalf("broadcast to an empty session: %s", got)
	}
	c.expect("POST", "/v1/sessions/nope/broadcast", `{"text":"x"}`, 404)
	c.expect("POST", "/v1/sessions/"+sess.ID+"/broadcast", `{"text":"`+strings.Repeat("x", 16385)+`"}`, 400)
	c.expect("POST", "/v1/sessions/"+sess.ID+"/broadcast", `{"text":"`+strings.Repeat("x", 16384)+`"}`, 200)
	// Tokens: mint one, revoke it by id.
	var minted struct{ Token, TokenID string }
	_ = json.Unmarshal(c.expect("POST", "/v1/tokens", `{"identity":"alice","grants":{"outgoing":true}}`, 201), &minted)
	c.expect("DELETE", "/v1/tokens/"+minted.TokenID, "", 204)

	// Devices: a user registers, lists and deletes its own with its token;
	// API credentials are refused.
	var user struct{ Token string }
	_ = json.Unmarshal(c.expect("POST", "/v1/tokens", `{"identity":"alice","grants":{"incoming":true}}`, 201), &user)
	var dev struct{ ID string }
	_ = json.Unmarshal(c.expectAs(user.Token, "POST", "/v1/devices", `{"platform":"apns","token":"`+strings.Repeat("ab", 32)+`","app":"com.example.phone"}`, 201), &dev)
	if got := c.expectAs(user.Token, "GET", "/v1/devices", "", 200); !strings.Contains(string(got), dev.ID) {
		t.Fatalf("devices: %s", got)
	}
	c.expectAs(user.Token, "POST", "/v1/devices", `{"platform":"apns","token":"xyz"}`, 400)
	c.expect("GET", "/v1/devices", "", 401)                 // Basic is not a user token
	c.expectAs(minted.Token, "GET", "/v1/devices", "", 401) // revoked above
	c.expectAs(user.Token, "DELETE", "/v1/devices/"+dev.ID, "", 204)
	c.expectAs(user.Token, "DELETE", "/v1/devices/"+dev.ID, "", 404)

	// A server-placed call to an identity nobody is connected as fails at once.
	var call struct{ ID, State, Cause string }
	_ = json.Unmarshal(c.expect("POST", "/v1/calls", `{"from":"support-line","to":"client:nobody-home","options":{"audio":true}}`, 201), &call)
	if call.State != "failed" || call.Cause != "callee_offline" {
		t.Fatalf("call: %+v", call)
	}
	c.expect("GET", "/v1/calls/"+call.ID, "", 200)
	c.expect("DELETE", "/v1/calls/"+call.ID, "", 409)
	c.expect("GET", "/v1/calls/c-none", "", 404)
	c.expect("POST", "/v1/calls", `{"from":"x","to":"no"}`, 400)
	c.expect("DELETE", "/v1/sessions/"+sess.ID, "", 204)
	c.expect("GET", "/v1/sessions/"+sess.ID, "", 404)
	c.expect("DELETE", "/v1/participants/"+a.Participant.ID, "", 204)
}

// Every route the document lists is served (neither 404 route_not_found
// nor 405), and every route the handler serves is documented.
func TestEveryDocumentedRouteExists(t *testing.T) {
	c := newAPIClient(t)
	doc, _ := openapi3.NewLoader().LoadFromFile("../../docs/openapi.yaml")
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
			concrete := strings.NewReplacer("{sessionId}", "s-x", "{participantId}", "p-x", "{callId}", "c-x", "{tokenId}", "t-x", "{deviceId}", "d-x", "{recordingId}", "r-x").Replace(path)
			req, _ := http.NewRequest(method, c.base+concrete, nil)
			req.SetBasicAuth(c.user, c.secret)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == 405 || strings.Contains(string(body), "route_not_found") || (res.StatusCode == 404 && !strings.Contains(string(body), `"code"`)) {
				t.Errorf("%s %s: documented but not served (%d %s)", method, path, res.StatusCode, body)
			}
		}
	}
	sort.Strings(documented)
	served := []string{
		"GET /.well-known/jwks.json", "POST /oauth2/token", "POST /v1/tokens", "DELETE /v1/tokens/{tokenId}",
		"POST /v1/participants", "GET /v1/participants/{participantId}", "DELETE /v1/participants/{participantId}",
		"POST /v1/sessions", "GET /v1/sessions/{sessionId}", "DELETE /v1/sessions/{sessionId}",
		"GET /v1/sessions/{sessionId}/participants", "POST /v1/sessions/{sessionId}/broadcast",
		"POST /v1/calls", "GET /v1/calls/{callId}", "DELETE /v1/calls/{callId}",
		"PUT /v1/sessions/{sessionId}/participants/{participantId}", "DELETE /v1/sessions/{sessionId}/participants/{participantId}",
		"GET /v1/sessions/{sessionId}/participants/{participantId}/subscriptions", "PUT /v1/sessions/{sessionId}/participants/{participantId}/subscriptions",
		"POST /v1/devices", "GET /v1/devices", "DELETE /v1/devices/{deviceId}",
		"GET /v1/recordings", "POST /v1/recordings", "GET /v1/recordings/{recordingId}", "DELETE /v1/recordings/{recordingId}",
		"GET /v1/recordings/{recordingId}/media", "DELETE /v1/recordings/active/calls/{callId}", "DELETE /v1/recordings/active/sessions/{sessionId}",
	}
	for _, s := range served {
		found := false
		for _, d := range documented {
			found = found || d == s
		}
		if !found {
			t.Errorf("%s is served but not documented", s)
		}
	}
}

// A /v1 path no handler serves is a JSON 404 route_not_found for an API
// client (401 without credentials, like every /v1 route), and a method a
// path does not take is a JSON 405 with Allow, whichever package serves it.
func TestAPIMisses(t *testing.T) {
	c := newAPIClient(t)
	for _, tc := range []struct {
		method, path string
		creds        bool
		status       int
		code, allow  string
	}{
		{"GET", "/v1/nothing-here", true, 404, "route_not_found", ""},
		{"GET", "/v1/", true, 404, "route_not_found", ""},
		{"GET", "/v1/nothing-here", false, 401, "unauthorized", ""},
		{"GET", "/v1/tokens", true, 405, "method_not_allowed", "POST"},
		{"GET", "/v1/calls", true, 405, "method_not_allowed", "POST"},
		{"PATCH", "/v1/sessions/s-x", true, 405, "method_not_allowed", "DELETE, GET, HEAD"},
		{"GET", "/v1/sessions/s-x/nothing", true, 404, "route_not_found", ""},
		{"GET", "/v1/calls/c-x/nothing", true, 404, "route_not_found", ""},
	} {
		req, _ := http.NewRequest(tc.method, c.base+tc.path, nil)
		if tc.creds {
			req.SetBasicAuth(c.user, c.secret)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var e struct{ Code, Message string }
		if err := json.Unmarshal(body, &e); err != nil || res.StatusCode != tc.status || e.Code != tc.code || e.Message == "" ||
			res.Header.Get("Allow") != tc.allow || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s (Allow %q, %s), want %d %s", tc.method, tc.path, res.StatusCode, body,
				res.Header.Get("Allow"), res.Header.Get("Content-Type"), tc.status, tc.code)
		}
	}
}
