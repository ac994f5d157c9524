package rooms_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// newTestHandler returns the handler as a host mounts it: under /v1, with
// the prefix stripped.
func newTestHandler(t *testing.T, b rooms.Broadcaster) (http.Handler, *rooms.Manager, *auth.Verifier) {
	t.Helper()
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	m, _ := rooms.NewManager(rooms.Config{})
	h, err := rooms.NewHandler(rooms.HandlerConfig{Manager: m, Issuer: iss, Broadcaster: b})
	if err != nil {
		t.Fatal(err)
	}
	return http.StripPrefix("/v1", h), m, ver
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
	h, _, ver := newTestHandler(t, nil)
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
		{user, "POST", "/v1/participants", `{}`, 403, "forbidden"},
		{user, "POST", "/v1/sessions", `{}`, 403, "forbidden"},
		{nil, "GET", "/v1/participants/" + pid, "", 403, "forbidden"},
		{mine, "GET", "/v1/nothing-here", "", 404, "route_not_found"},
		{mine, "PATCH", "/v1/participants/" + pid, "", 405, "method_not_allowed"},
		{mine, "POST", "/v1/participants", `{"publishPermissions":["SMELL"]}`, 400, "validation_failed"},
		{mine, "POST", "/v1/participants", `{"identity":"a b"}`, 400, "invalid_request"},
		{mine, "POST", "/v1/participants", `[1,2]`, 400, "invalid_json"},
		{mine, "POST", "/v1/participants", `{} {}`, 400, "invalid_json"},
		{mine, "PUT", "/v1/sessions/s-none/participants/" + pid, "", 404, "session_not_found"},
		{mine, "POST", "/v1/sessions/s-none/broadcast", `{"text":"x"}`, 404, "route_not_found"}, // no Broadcaster
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

// broadcaster records what it was asked to send.
type broadcaster struct {
	account, session, text string
}

func (b *broadcaster) Broadcast(_ context.Context, account, sessionID, text string) (int, error) {
	b.account, b.session, b.text = account, sessionID, text
	return 3, nil
}

// POST /sessions/{sid}/broadcast hands valid UTF-8 text of at most
// MaxBroadcastBytes to the Broadcaster for a session of the caller's
// account; anything else is refused before it.
func TestHandlerBroadcast(t *testing.T) {
	b := &broadcaster{}
	h, m, _ := newTestHandler(t, b)
	s, err := m.CreateSession(context.Background(), "A", "")
	if err != nil {
		t.Fatal(err)
	}
	mine := &auth.Claims{Subject: "mine", Account: "A", Grants: auth.Grants{Admin: true}}
	theirs := &auth.Claims{Subject: "theirs", Account: "B", Grants: auth.Grants{Admin: true}}
	user := &auth.Claims{Subject: "alice", Account: "A"}
	path := "/v1/sessions/" + s.ID + "/broadcast"
	text := func(n int) string { return `{"text":"` + strings.Repeat("x", n) + `"}` }
	for _, tc := range []struct {
		who          *auth.Claims
		path, body   string
		status       int
		code, answer string
	}{
		{mine, path, `{"text":"all hands in 5"}`, 200, "", `{"received":3}`},
		{mine, path, text(rooms.MaxBroadcastBytes), 200, "", `{"received":3}`},
		{mine, path, text(rooms.MaxBroadcastBytes + 1), 400, "text_too_long", ""},
		// Decoding replaces a lone surrogate or a byte that is not UTF-8 with
		// U+FFFD: the Broadcaster only ever sees valid UTF-8.
		{mine, path, `{"text":"\ud800"}`, 200, "", ""},
		{mine, path, "{\"text\":\"\xff\"}", 200, "", ""},
		{mine, path, `{"text":""}`, 400, "validation_failed", ""},
		{mine, "/v1/sessions/s-none/broadcast", `{"text":"x"}`, 404, "session_not_found", ""},
		{theirs, path, `{"text":"x"}`, 404, "session_not_found", ""},
		{user, path, `{"text":"x"}`, 403, "forbidden", ""},
		{mine, path[:len(path)-len("/broadcast")] + "/broadcast/x", `{"text":"x"}`, 404, "route_not_found", ""},
	} {
		*b = broadcaster{}
		w := call(h, tc.who, "POST", tc.path, tc.body)
		name := fmt.Sprintf("%s as %s with %.40s", tc.path, tc.who.Subject, tc.body)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.code) || !strings.Contains(w.Body.String(), tc.answer) {
			t.Errorf("%s: %d %s, want %d %s%s", name, w.Code, w.Body, tc.status, tc.code, tc.answer)
		}
		if sent := b.text != ""; sent != (tc.status == 200) || (sent && (b.account != "A" || b.session != s.ID || !utf8.ValidString(b.text))) {
			t.Errorf("%s: the broadcaster got %+v", name, *b)
		}
	}
}

// The broadcast limit is on the text, not on its JSON spelling: a text of
// MaxBroadcastBytes is taken however its characters are escaped (a control
// character is six bytes of JSON, \u0001), and one byte more is
// text_too_long, not body_too_large.
func TestHandlerBroadcastEscapedText(t *testing.T) {
	b := &broadcaster{}
	h, m, _ := newTestHandler(t, b)
	s, err := m.CreateSession(context.Background(), "A", "")
	if err != nil {
		t.Fatal(err)
	}
	mine := &auth.Claims{Subject: "mine", Account: "A", Grants: auth.Grants{Admin: true}}
	path := "/v1/sessions/" + s.ID + "/broadcast"
	for _, c := range []string{"\x01", `"`, "<"} {
		for n, want := range map[int]int{rooms.MaxBroadcastBytes: 200, rooms.MaxBroadcastBytes + 1: 400} {
			body, err := json.Marshal(rooms.BroadcastRequest{Text: strings.Repeat(c, n)})
			if err != nil {
				t.Fatal(err)
			}
			*b = broadcaster{}
			w := call(h, mine, "POST", path, string(body))
			if w.Code != want || want == 200 && len(b.text) != n || want == 400 && !strings.Contains(w.Body.String(), `"text_too_long"`) {
				t.Errorf("%d of %q (%d bytes of JSON): %d %.80s, want %d", n, c, len(body), w.Code, w.Body, want)
			}
		}
	}
}

// qualities knows one participant's level, in one account.
type qualities struct{ account, pid, level string }

func (q qualities) NetworkQuality(account, pid string) (string, bool) {
	return q.level, account == q.account && pid == q.pid
}

// With HandlerConfig.Quality, the participant objects of GET
// /participants/{pid} and GET /sessions/{sid}/participants carry the
// current level when it is known, and no field otherwise.
func TestHandlerNetworkQuality(t *testing.T) {
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	m, _ := rooms.NewManager(rooms.Config{})
	ctx := context.Background()
	s, _ := m.CreateSession(ctx, "A", "")
	alice, _ := m.CreateParticipant(ctx, "A", rooms.ParticipantSpec{Identity: "alice"})
	bob, _ := m.CreateParticipant(ctx, "A", rooms.ParticipantSpec{Identity: "bob"})
	for _, p := range []*rooms.Participant{alice, bob} {
		if err := m.AddParticipant(ctx, "A", s.ID, p.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
	h, err := rooms.NewHandler(rooms.HandlerConfig{Manager: m, Issuer: iss, Quality: qualities{"A", alice.ID, "POOR"}})
	if err != nil {
		t.Fatal(err)
	}
	mine := &auth.Claims{Subject: "mine", Account: "A", Grants: auth.Grants{Admin: true}}
	w := call(http.StripPrefix("/v1", h), mine, "GET", "/v1/sessions/"+s.ID+"/participants", "")
	var list []map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || w.Code != 200 || len(list) != 2 {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	for _, p := range list {
		level, has := p["networkQuality"]
		if want := p["id"] == alice.ID; has != want || want && level != "POOR" {
			t.Errorf("participant %v: networkQuality %v %v", p["id"], level, has)
		}
		if p["identity"] == nil || p["streams"] == nil {
			t.Errorf("participant fields lost: %v", p)
		}
	}
	w = call(http.StripPrefix("/v1", h), mine, "GET", "/v1/participants/"+alice.ID, "")
	if !strings.Contains(w.Body.String(), `"networkQuality":"POOR"`) || !strings.Contains(w.Body.String(), `"identity":"alice"`) {
		t.Errorf("get: %s", w.Body)
	}
}
