package rooms_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/rooms"
)

func newTestHandler(t *testing.T) (*rooms.Handler, *auth.Verifier) {
	t.Helper()
	key, _ := auth.GenerateKey(auth.ES256)
	keys := auth.NewKeySet(key)
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	m, _ := rooms.NewManager(rooms.Config{})
	h, err := rooms.NewHandler(rooms.HandlerConfig{Manager: m, Issuer: iss})
	if err != nil {
		t.Fatal(err)
	}
	return h, ver
}

func call(h http.Handler, claims *auth.Claims, method, path, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if claims != nil {
		r = r.WithContext(auth.NewContext(r.Context(), claims))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlerScopingAndErrors(t *testing.T) {
	h, ver := newTestHandler(t)
	mine := &auth.Claims{Subject: "mine", Account: "A", Grants: auth.Grants{Admin: true}}
	theirs := &auth.Claims{Subject: "theirs", Account: "B", Grants: auth.Grants{Admin: true}}
	user := &auth.Claims{Subject: "alice", Account: "A"}

	w := call(h, mine, "POST", "/v1/participants", `{"identity":"alice","publishPermissions":["AUDIO"]}`)
	if w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var created struct {
		Participant rooms.Participant
		Token       string
	}
	_ = json.Unmarshal(w.Body.Bytes(), &created)
	// The token's grants match the publish permissions and name the participant.
	c, err := ver.Verify(context.Background(), created.Token)
	if err != nil || c.ParticipantID != created.Participant.ID || c.Subject != "alice" || c.Account != "A" ||
		!c.Grants.CanPublish(auth.MediaAudio) || c.Grants.CanPublish(auth.MediaVideo) {
		t.Fatalf("token claims %+v, err %v", c, err)
	}
	pid := created.Participant.ID

	for _, tc := range []struct {
		who          *auth.Claims
		method, path string
		body         string
		status       int
		code         string
	}{
		{theirs, "GET", "/v1/participants/" + pid, "", 404, "participant_not_found"},
		{theirs, "DELETE", "/v1/participants/" + pid, "", 404, "participant_not_found"},
		{user, "GET", "/v1/participants/" + pid, "", 403, "forbidden"},
		{nil, "GET", "/v1/participants/" + pid, "", 403, "forbidden"},
		{mine, "GET", "/v1/nothing-here", "", 404, "route_not_found"},
		{mine, "PATCH", "/v1/participants/" + pid, "", 405, "method_not_allowed"},
		{mine, "POST", "/v1/participants", `{"publishPermissions":["SMELL"]}`, 400, "validation_failed"},
		{mine, "POST", "/v1/participants", `{"identity":"a b"}`, 400, "invalid_request"},
		{mine, "POST", "/v1/participants", `[1,2]`, 400, "invalid_json"},
		{mine, "POST", "/v1/participants", `{} {}`, 400, "invalid_json"},
		{mine, "PUT", "/v1/sessions/s-none/participants/" + pid, "", 404, "session_not_found"},
	} {
		w := call(h, tc.who, tc.method, tc.path, tc.body)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), `"code":"`+tc.code+`"`) {
			t.Errorf("%s %s as %v: %d %s, want %d %s", tc.method, tc.path, tc.who, w.Code, w.Body, tc.status, tc.code)
		}
	}
	// Body limit: exactly 64 KiB is read, one byte more is 413.
	pad := func(n int) string {
		base := `{"tag":"x","identity":"` + "abc" + `"}`
		return base + strings.Repeat(" ", n-len(base))
	}
	if w := call(h, mine, "POST", "/v1/participants", pad(rooms.DefaultMaxBody)); w.Code != 201 {
		t.Errorf("body at the limit: %d %s", w.Code, w.Body)
	}
	if w := call(h, mine, "POST", "/v1/participants", pad(rooms.DefaultMaxBody+1)); w.Code != 413 {
		t.Errorf("body one past the limit: %d %s", w.Code, w.Body)
	}
}
