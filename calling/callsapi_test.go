package calling_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// restAPI is calling's REST routes as a host mounts them under /v1: the
// calls API, and rooms' handler with the Server as its Broadcaster.
func (e *env) restAPI() http.Handler {
	e.t.Helper()
	api, err := rooms.NewHandler(rooms.HandlerConfig{Manager: e.rooms, Issuer: e.issuer, Broadcaster: e.srv})
	if err != nil {
		e.t.Fatal(err)
	}
	mux := http.NewServeMux()
	for path, h := range map[string]http.Handler{"calls": e.srv.CallsHandler(), "sessions": api, "participants": api} {
		mux.Handle("/v1/"+path, http.StripPrefix("/v1", h))
		mux.Handle("/v1/"+path+"/", http.StripPrefix("/v1", h))
	}
	return mux
}

// rest sends a request as the caller c to h.
func rest(h http.Handler, c *auth.Claims, method, path, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if c != nil {
		r = r.WithContext(auth.NewContext(r.Context(), c))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// POST /v1/calls rings an identity on behalf of an application; GET shows
// state and history; DELETE hangs up.
func TestServerPlacedCall(t *testing.T) {
	e := newEnv(t, nil)
	api := e.restAPI()
	admin := &auth.Claims{Subject: "backend", Account: acct, Grants: auth.Grants{Admin: true}}
	do := func(method, path, body string) (int, calling.CallInfo, string) {
		w := rest(api, admin, method, path, body)
		var info calling.CallInfo
		_ = json.Unmarshal(w.Body.Bytes(), &info)
		return w.Code, info, w.Body.String()
	}
	bob := e.phone("bob")
	withMic(t, bob)
	code, info, body := do("POST", "/v1/calls", `{"from":"support-line","to":"client:bob","options":{"audio":true}}`)
	if code != http.StatusCreated || info.State != protocol.StateRinging || info.To != "bob" {
		t.Fatalf("POST: %d %s", code, body)
	}
	in := incoming(t, bob)
	if in.From != "support-line" || in.CallID != info.ID {
		t.Fatalf("incoming %+v", in)
	}
	if err := bob.Accept(info.ID, protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	states(t, bob, info.ID, protocol.StateAccepted)
	_, got, _ := do("GET", "/v1/calls/"+info.ID, "")
	if got.SessionID == "" || len(got.History) < 3 {
		t.Fatalf("GET: %+v", got)
	}
	if code, _, _ := do("DELETE", "/v1/calls/"+info.ID, ""); code != http.StatusNoContent {
		t.Fatalf("DELETE: %d", code)
	}
	eq(t, "bob", states(t, bob, info.ID, protocol.StateEnded), "ended(normal)")
	if code, _, body := do("DELETE", "/v1/calls/"+info.ID, ""); code != http.StatusConflict || !strings.Contains(body, `"call_over"`) {
		t.Fatalf("second DELETE: %d %s", code, body)
	}
	_, got, _ = do("GET", "/v1/calls/"+info.ID, "")
	if got.State != protocol.StateEnded || got.Cause != protocol.CauseNormal {
		t.Fatalf("after hang-up: %+v", got)
	}
	// Errors.
	if code, _, body := do("GET", "/v1/calls/c-nope", ""); code != 404 || !strings.Contains(body, `"call_not_found"`) {
		t.Fatalf("unknown call: %d %s", code, body)
	}
	if code, _, body := do("POST", "/v1/calls", `{"from":"x","to":"no"}`); code != 400 {
		t.Fatalf("bad callee: %d %s", code, body)
	}
	if code, info, _ := do("POST", "/v1/calls", `{"from":"x","to":"nobody-home"}`); code != 201 || info.State != protocol.StateFailed || info.Cause != protocol.CauseCalleeOffline {
		t.Fatalf("offline callee: %d %+v", code, info)
	}
}

// The calls API admits only admins, scopes calls to the caller's account
// (another account's call is 404 and stays untouched), and answers paths
// and methods it does not serve with the JSON error body.
func TestCallsAPIAdminAndScope(t *testing.T) {
	e := newEnv(t, nil)
	api := e.restAPI()
	mine := &auth.Claims{Subject: "backend", Account: acct, Grants: auth.Grants{Admin: true}}
	theirs := &auth.Claims{Subject: "other-backend", Account: "acct-2", Grants: auth.Grants{Admin: true}}
	user := &auth.Claims{Subject: "bob", Account: acct, Grants: auth.Grants{Outgoing: true, Incoming: true}}
	w := rest(api, mine, "POST", "/v1/calls", `{"from":"x","to":"nobody-home"}`)
	var info calling.CallInfo
	if err := json.Unmarshal(w.Body.Bytes(), &info); w.Code != 201 || err != nil {
		t.Fatalf("POST: %d %s", w.Code, w.Body)
	}
	for _, tc := range []struct {
		who          *auth.Claims
		method, path string
		body         string
		status       int
		code         string
	}{
		{user, "POST", "/v1/calls", `{"from":"x","to":"bob"}`, 403, "forbidden"},
		{user, "GET", "/v1/calls/" + info.ID, "", 403, "forbidden"},
		{user, "DELETE", "/v1/calls/" + info.ID, "", 403, "forbidden"},
		{nil, "GET", "/v1/calls/" + info.ID, "", 403, "forbidden"},
		{user, "POST", "/v1/sessions/s-x/broadcast", `{"text":"x"}`, 403, "forbidden"},
		{theirs, "GET", "/v1/calls/" + info.ID, "", 404, "call_not_found"},
		{theirs, "DELETE", "/v1/calls/" + info.ID, "", 404, "call_not_found"},
		{mine, "GET", "/v1/calls", "", 405, "method_not_allowed"},
		{mine, "PUT", "/v1/calls/" + info.ID, "", 405, "method_not_allowed"},
		{mine, "GET", "/v1/calls/" + info.ID + "/history", "", 404, "route_not_found"},
		{mine, "POST", "/v1/calls", `{"from":"x","to":"bob","pad":"` + strings.Repeat("x", 8<<10) + `"}`, 413, "body_too_large"},
	} {
		w := rest(api, tc.who, tc.method, tc.path, tc.body)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), `"code":"`+tc.code+`"`) {
			t.Errorf("%s %s as %v: %d %s, want %d %s", tc.method, tc.path, tc.who, w.Code, w.Body, tc.status, tc.code)
		}
	}
	if c, ok := e.srv.Call(acct, info.ID); !ok || c.Info().State != protocol.StateFailed || c.Info().Cause != protocol.CauseCalleeOffline {
		t.Fatal("another account's DELETE touched the call")
	}
}

// POST /v1/sessions/{sid}/broadcast, served by rooms' handler through the
// Server as its Broadcaster, reaches a connected participant's data channel.
func TestRESTBroadcast(t *testing.T) {
	e := newEnv(t, nil)
	api := e.restAPI()
	admin := &auth.Claims{Subject: "backend", Account: acct, Grants: auth.Grants{Admin: true}}
	a := e.dial("alice")
	ctx := ctxT(t, 20*time.Second)
	ja, err := a.Join(ctx, client.JoinRequest{Room: "standup"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.DataChannelOpen():
	case <-ctx.Done():
		t.Fatal("data channel did not open")
	}
	path := "/v1/sessions/" + ja.SessionID + "/broadcast"
	if w := rest(api, admin, "POST", path, `{"text":"`+strings.Repeat("x", calling.DefaultMaxBroadcastBytes+1)+`"}`); w.Code != 400 || !strings.Contains(w.Body.String(), `"text_too_long"`) {
		t.Fatalf("one byte past the limit: %d %s", w.Code, w.Body)
	}
	if w := rest(api, admin, "POST", path, `{"text":"all hands in 5"}`); w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"received":1}` {
		t.Fatalf("broadcast: %d %s", w.Code, w.Body)
	}
	select {
	case d := <-a.Data():
		if d.Type != protocol.DataBroadcast || d.Text != "all hands in 5" || d.Date.IsZero() {
			t.Fatalf("alice got %+v", d)
		}
	case <-ctx.Done():
		t.Fatal("alice: no broadcast")
	}
}
