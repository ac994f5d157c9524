package rooms_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// FuzzHandlerBodies: any body on the REST routes that take one (create a
// participant, create a session, add a participant to a session, set its
// subscriptions) gets a 2xx or a 4xx JSON {"code","message"}, never a
// panic or a 5xx; what is created has safe tags and an ASCII identity.
func FuzzHandlerBodies(f *testing.F) {
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	m, _ := rooms.NewManager(rooms.Config{})
	h, err := rooms.NewHandler(rooms.HandlerConfig{Manager: m, Issuer: iss})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	s, _ := m.CreateSession(ctx, "A", "seed")
	p, _ := m.CreateParticipant(ctx, "A", rooms.ParticipantSpec{PublishPermissions: []auth.Media{auth.MediaAudio}})
	other, _ := m.CreateParticipant(ctx, "A", rooms.ParticipantSpec{})
	admin := &auth.Claims{Subject: "backend", Account: "A", Grants: auth.Grants{Admin: true}}
	routes := []struct{ method, path string }{
		{"POST", "/v1/participants"},
		{"POST", "/v1/sessions"},
		{"PUT", "/v1/sessions/" + s.ID + "/participants/" + p.ID},
		{"PUT", "/v1/sessions/" + s.ID + "/participants/" + p.ID + "/subscriptions"},
	}
	for _, seed := range []struct {
		route uint8
		body  string
	}{
		{0, `{"tag":"t","identity":"alice","publishPermissions":["AUDIO","VIDEO"],"deviceApiVersion":"V3"}`},
		{0, `{"identity":"\u0430lice","publishPermissions":[]}`},
		{0, `{"tag":"a\u202eb","publishPermissions":[]}`},
		{0, `{"publishPermissions":["AUDIO","AUDIO","VIDEO"]}`},
		{0, `{"Tag":"x","publishPermissions":[]}`},
		{1, `{"tag":"standup"}`},
		{1, ``},
		{1, `{"tag":"x","tag":"y"}`},
		{1, `{"tag":"\u0000"}`},
		{2, `{"subscriptions":{"sessionId":"` + s.ID + `"}}`},
		{2, `{"subscriptions":{"participants":[{"participantId":"` + other.ID + `","streamAliases":["mic"]}]}}`},
		{2, ``},
		{3, `{"sessionId":"` + s.ID + `"}`},
		{3, `{"participants":[{"participantId":"` + other.ID + `"},{"participantId":"` + other.ID + `"}]}`},
		{3, `{"participants":[{"participantID":"x"}]}`},
		{3, `{"participants":[{"participantId":""}]}`},
		{3, `[]`},
		{3, `null`},
	} {
		f.Add(seed.route, seed.body)
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := routes[int(route)%len(routes)]
		w := call(h, admin, rt.method, rt.path, body)
		switch {
		case w.Code >= 200 && w.Code < 300:
		case w.Code >= 400 && w.Code < 500:
			var e httpx.Error
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, w.Code, w.Body)
			}
			return
		default:
			t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, w.Code, w.Body)
		}
		var created struct {
			Tag         string `json:"tag"`
			Participant struct {
				Tag      string `json:"tag"`
				Identity string `json:"identity"`
			} `json:"participant"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &created)
		if !httpx.SafeText(created.Tag) || !httpx.SafeText(created.Participant.Tag) ||
			(created.Participant.Identity != "" && !auth.ValidIdentity(created.Participant.Identity)) {
			t.Fatalf("%q created %s", body, w.Body)
		}
		if rt.method == "POST" && w.Code != http.StatusCreated {
			t.Fatalf("%q: %d", body, w.Code)
		}
	})
}
