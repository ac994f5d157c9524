package calling_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// FuzzRESTBodies: any body on calling's REST routes (POST /v1/calls, POST
// /v1/sessions/{id}/broadcast) gets a 2xx or a 4xx JSON {"code","message"},
// never a panic or a 5xx.
func FuzzRESTBodies(f *testing.F) {
	e := newEnv(f, nil)
	api := e.restAPI()
	s, err := e.rooms.CreateSession(f.Context(), acct, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	admin := &auth.Claims{Subject: "backend", Account: acct, Grants: auth.Grants{Admin: true}}
	paths := []string{"/v1/calls", "/v1/sessions/" + s.ID + "/broadcast"}
	for _, seed := range []struct {
		route uint8
		body  string
	}{
		{0, `{"from":"support-line","to":"client:bob","options":{"audio":true}}`},
		{0, `{"from":"x","to":"nobody-home","options":{"audio":true,"customData":{"a":"b"}}}`},
		{0, `{"from":"x","to":"b\u0430b"}`},
		{0, `{"from":"x","to":"bob","options":{"recording":"LOUD"}}`},
		{0, `{"from":"x","from":"y","to":"bob"}`},
		{0, `{"From":"x","to":"bob"}`},
		{0, `{"from":"","to":""}`},
		{0, `[]`},
		{1, `{"text":"hello"}`},
		{1, `{"text":""}`},
		{1, `{"text":"` + strings.Repeat("x", 17<<10) + `"}`},
		{1, `{"text":"\ud800"}`},
		{1, `null`},
	} {
		f.Add(seed.route, seed.body)
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		path := paths[int(route)%len(paths)]
		r := httptest.NewRequest("POST", path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r = r.WithContext(auth.NewContext(r.Context(), admin))
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		switch {
		case w.Code >= 200 && w.Code < 300:
		case w.Code >= 400 && w.Code < 500:
			var e httpx.Error
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("POST %s %q: %d %s", path, body, w.Code, w.Body)
			}
		default:
			t.Fatalf("POST %s %q: %d %s", path, body, w.Code, w.Body)
		}
	})
}
