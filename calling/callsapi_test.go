package calling_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// POST /v1/calls rings an identity on behalf of an application; GET shows
// state and history; DELETE hangs up.
func TestServerPlacedCall(t *testing.T) {
	e := newEnv(t, nil)
	api, _ := rooms.NewHandler(rooms.HandlerConfig{Manager: e.rooms, Issuer: e.issuer})
	e.srv.RegisterREST(api)
	admin := &auth.Claims{Subject: "backend", Account: acct, Grants: auth.Grants{Admin: true}}
	do := func(method, path, body string) (int, calling.CallInfo, string) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r = r.WithContext(auth.NewContext(r.Context(), admin))
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
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
	if code, _, body := do("DELETE", "/v1/calls/"+info.ID, ""); code != http.StatusConflict {
		t.Fatalf("second DELETE: %d %s", code, body)
	}
	_, got, _ = do("GET", "/v1/calls/"+info.ID, "")
	if got.State != protocol.StateEnded || got.Cause != protocol.CauseNormal {
		t.Fatalf("after hang-up: %+v", got)
	}
	// Errors.
	if code, _, _ := do("GET", "/v1/calls/c-nope", ""); code != 404 {
		t.Fatalf("unknown call: %d", code)
	}
	if code, _, body := do("POST", "/v1/calls", `{"from":"x","to":"no"}`); code != 400 {
		t.Fatalf("bad callee: %d %s", code, body)
	}
	if code, info, _ := do("POST", "/v1/calls", `{"from":"x","to":"nobody-home"}`); code != 201 || info.State != protocol.StateFailed || info.Cause != protocol.CauseCalleeOffline {
		t.Fatalf("offline callee: %d %+v", code, info)
	}
}
