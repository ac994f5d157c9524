package rooms_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// unsafeText are strings that display differently from what they are.
var unsafeText = map[string]string{
	"NUL":              "a\x00b",
	"tab":              "a\tb",
	"newline":          "a\nb",
	"DEL":              "a\x7fb",
	"C1 NEL":           "a\u0085b",
	"LRE":              "a\u202ab",
	"RLO":              "invoice\u202efdp.exe",
	"LRI":              "a\u2066b",
	"PDI":              "a\u2069b",
	"LRM":              "a\u200eb",
	"RLM":              "a\u200fb",
	"invalid UTF-8":    "a\xffb",
	"at the tag limit": strings.Repeat("x", rooms.DefaultMaxTagLength-1) + "\u202e",
}

// Tags and room names refuse control characters and bidirectional
// overrides with 400 invalid_characters; ordinary text from any script,
// up to the limits, is accepted.
func TestTagsAndRoomNamesRefuseUnsafeText(t *testing.T) {
	ctx := context.Background()
	m, _ := rooms.NewManager(rooms.Config{})
	for name, s := range unsafeText {
		if _, err := m.CreateSession(ctx, "a", s); !errors.Is(err, rooms.ErrInvalidCharacters) || !errors.Is(err, rooms.ErrInvalid) {
			t.Errorf("session tag %s: %v", name, err)
		}
		if _, err := m.CreateParticipant(ctx, "a", rooms.ParticipantSpec{Tag: s}); !errors.Is(err, rooms.ErrInvalidCharacters) {
			t.Errorf("participant tag %s: %v", name, err)
		}
		p, _ := m.CreateParticipant(ctx, "a", rooms.ParticipantSpec{})
		if _, err := m.JoinRoom(ctx, "a", s, p.ID); !errors.Is(err, rooms.ErrInvalidCharacters) {
			t.Errorf("room name %s: %v", name, err)
		}
		if status, code, _ := rooms.HTTPStatus(rooms.ErrInvalidCharacters); status != 400 || code != "invalid_characters" {
			t.Fatalf("wire error %d %s", status, code)
		}
	}
	for _, ok := range []string{"Zoë's room 🎉", "会议室", "مرحبا", strings.Repeat("ü", rooms.DefaultMaxTagLength)} {
		if _, err := m.CreateSession(ctx, "a", ok); err != nil {
			t.Errorf("tag %q: %v", ok, err)
		}
	}
	p, _ := m.CreateParticipant(ctx, "a", rooms.ParticipantSpec{})
	if _, err := m.JoinRoom(ctx, "a", strings.Repeat("会", 128), p.ID); err != nil {
		t.Errorf("room name of 128 characters: %v", err)
	}
	p2, _ := m.CreateParticipant(ctx, "a", rooms.ParticipantSpec{})
	if _, err := m.JoinRoom(ctx, "a", strings.Repeat("会", 129), p2.ID); !errors.Is(err, rooms.ErrInvalid) {
		t.Errorf("room name of 129 characters: %v", err)
	}

	// Through the REST API.
	h, _, _ := newTestHandler(t, nil)
	admin := &auth.Claims{Subject: "mine", Account: "A", Grants: auth.Grants{Admin: true}}
	for path, body := range map[string]string{
		"/v1/sessions":     `{"tag":"a\u202eb"}`,
		"/v1/participants": `{"tag":"a\u202eb","publishPermissions":[]}`,
	} {
		w := call(h, admin, "POST", path, body)
		var e struct{ Code string }
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != 400 || e.Code != "invalid_characters" {
			t.Errorf("POST %s with a bidi override in the tag: %d %s", path, w.Code, w.Body)
		}
	}
	// Identities are ASCII only: a Cyrillic look-alike of alice is refused.
	w := call(h, admin, "POST", "/v1/participants", `{"identity":"\u0430lice","publishPermissions":[]}`)
	if w.Code != 400 {
		t.Errorf("look-alike identity: %d %s", w.Code, w.Body)
	}
}
