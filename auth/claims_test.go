package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
)

func base64Decode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func TestValidIdentity(t *testing.T) {
	cases := map[string]bool{
		"abc": true, "ab": false, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
		"Zoe_1-2+3=4/5.6": true, "with space": false, "semi;colon": false,
		"at@sign": false, "": false, "tab\tx": false, "per%cent": false,
		// Look-alikes from other scripts and non-ASCII letters are refused.
		"\u0430lice":                     false, // Cyrillic а
		"\uff41\uff4c\uff49\uff43\uff45": false, // full-width alice
		"Zoë":                            false,
		"用户名":                            false,
		strings.Repeat("é", 3):           false,
		"alice\u200e":                    false, // left-to-right mark
	}
	for id, want := range cases {
		if got := auth.ValidIdentity(id); got != want {
			t.Errorf("ValidIdentity(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestParseCapabilities(t *testing.T) {
	cases := []struct {
		caps     []string
		identity string
		want     auth.Grants
		err      error
	}{
		{[]string{"client.outgoing?identity=Bert"}, "Bert", auth.Grants{Outgoing: true}, nil},
		{[]string{"client.outgoing?identity=Bert", "client.incoming?identity=Bert"}, "Bert", auth.Grants{Outgoing: true, Incoming: true}, nil},
		{[]string{"client.incoming?identity=Bert", "room.join?name=hello", "room.join?name=a%20b&identity=Bert", "room.join?name=hello",
			"publish?media=AUDIO", "publish?media=VIDEO", "data"}, "Bert",
			auth.Grants{Incoming: true, Rooms: []string{"hello", "a b"}, Publish: []auth.Media{"AUDIO", "VIDEO"}, Data: true}, nil},
		{[]string{"room.join?name=*&identity=Bert"}, "Bert", auth.Grants{Rooms: []string{"*"}}, nil},
		{[]string{"room.join?name=" + strings.Repeat("r", auth.MaxRoomNameLength) + "&identity=Bert"}, "Bert", auth.Grants{Rooms: []string{strings.Repeat("r", auth.MaxRoomNameLength)}}, nil},
		{[]string{"room.join?name=" + strings.Repeat("r", auth.MaxRoomNameLength+1) + "&identity=Bert"}, "", auth.Grants{}, auth.ErrInvalidClaims},
		{[]string{"room.join?name=evil%E2%80%AEtxt&identity=Bert"}, "", auth.Grants{}, auth.ErrInvalidClaims},
		{[]string{"room.join?name=a%0Ab&identity=Bert"}, "", auth.Grants{}, auth.ErrInvalidClaims},
		{[]string{"room.join?identity=Bert"}, "", auth.Grants{}, auth.ErrInvalidClaims},
		{[]string{"publish?media=SMELL&identity=Bert"}, "", auth.Grants{}, auth.ErrInvalidClaims},
		{[]string{"data?x=1&identity=Bert"}, "", auth.Grants{}, auth.ErrInvalidClaims},
		{[]string{"client.outgoing?identity=Bert&identity=Bert"}, "", auth.Grants{}, auth.ErrInvalidClaims},
		{[]string{"client.outgoing?identity=Bert&foo=1"}, "", auth.Grants{}, auth.ErrInvalidClaims},
		{[]string{"client.outgoing"}, "", auth.Grants{}, auth.ErrInvalidIdentity},
		{[]string{"data", "publish?media=AUDIO"}, "", auth.Grants{}, auth.ErrInvalidIdentity},
		{[]string{"client.incoming?identity=Bert", "client.outgoing?identity=Ernie"}, "", auth.Grants{}, auth.ErrInvalidClaims},
		{[]string{"client.incoming?identity=Bert", "data?identity=Ernie"}, "", auth.Grants{}, auth.ErrInvalidClaims},
		{[]string{"client.outgoing?identity=B"}, "", auth.Grants{}, auth.ErrInvalidIdentity},
		{[]string{"client.outgoing?identity=%D0%B0lice"}, "", auth.Grants{}, auth.ErrInvalidIdentity},
		{[]string{"client.teleport?identity=Bert"}, "", auth.Grants{}, auth.ErrInvalidClaims},
		{[]string{"client.outgoing?identity=%zz"}, "", auth.Grants{}, auth.ErrInvalidClaims},
		{nil, "", auth.Grants{}, auth.ErrInvalidClaims},
	}
	for _, tc := range cases {
		id, g, err := auth.ParseCapabilities(tc.caps)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("%v: err %v, want %v", tc.caps, err, tc.err)
			continue
		}
		if id != tc.identity || !reflect.DeepEqual(g, tc.want) {
			t.Errorf("%v: got %q %+v, want %+v", tc.caps, id, g, tc.want)
		}
		if err == nil {
			// FormatCapabilities is the inverse.
			id2, g2, err := auth.ParseCapabilities(auth.FormatCapabilities(id, g))
			if err != nil || id2 != id || !reflect.DeepEqual(g2, g) {
				t.Errorf("%v: round trip %q %+v %v", tc.caps, id2, g2, err)
			}
		}
	}
	// MaxCapabilities at the limit and one past it.
	caps := []string{"client.outgoing?identity=Bert"}
	for len(caps) < auth.MaxCapabilities {
		caps = append(caps, "data")
	}
	if _, _, err := auth.ParseCapabilities(caps); err != nil {
		t.Errorf("%d capabilities: %v", len(caps), err)
	}
	if _, _, err := auth.ParseCapabilities(append(caps, "data")); !errors.Is(err, auth.ErrInvalidClaims) {
		t.Errorf("%d capabilities: %v", len(caps)+1, err)
	}
}

// The permission helpers read the grants, and allow nothing on nil claims.
func TestClaimsPermissions(t *testing.T) {
	c := &auth.Claims{Subject: "alice", Grants: auth.Grants{Outgoing: true, Incoming: true, Rooms: []string{"hello"}, Publish: []auth.Media{auth.MediaAudio}, Data: true}}
	if !c.CanJoin("hello") || c.CanJoin("other") || !c.CanPublish(auth.MediaAudio) || c.CanPublish(auth.MediaVideo) ||
		!c.CanCall() || !c.CanReceiveCalls() || !c.CanSendData() || c.IsAdmin() {
		t.Errorf("permissions of %+v wrong", c.Grants)
	}
	any := &auth.Claims{Subject: "bob", Grants: auth.Grants{Rooms: []string{"*"}, Admin: true}}
	if !any.CanJoin("whatever") || any.CanCall() || any.CanReceiveCalls() || any.CanSendData() || !any.IsAdmin() {
		t.Errorf("permissions of %+v wrong", any.Grants)
	}
	var none *auth.Claims
	if none.CanJoin("hello") || none.CanPublish(auth.MediaAudio) || none.CanCall() || none.CanReceiveCalls() || none.CanSendData() || none.IsAdmin() {
		t.Error("nil claims allow something")
	}
}

func TestMintValidation(t *testing.T) {
	f := newFixture(t, auth.ES256)
	ctx := context.Background()
	cases := []struct {
		name string
		req  auth.TokenRequest
		want error
	}{
		{"bad identity", auth.TokenRequest{Identity: "no"}, auth.ErrInvalidIdentity},
		{"ttl 24h is the max", auth.TokenRequest{Identity: "alice", TTL: 24 * time.Hour}, nil},
		{"ttl one past 24h", auth.TokenRequest{Identity: "alice", TTL: 24*time.Hour + time.Second}, auth.ErrInvalidClaims},
		{"bad publish", auth.TokenRequest{Identity: "alice", Grants: auth.Grants{Publish: []auth.Media{"SMELL"}}}, auth.ErrInvalidClaims},
		{"bad recording", auth.TokenRequest{Identity: "alice", Grants: auth.Grants{Recording: "SOMETIMES"}}, auth.ErrInvalidClaims},
		{"capabilities", auth.TokenRequest{Capabilities: []string{"client.incoming?identity=Bert"}}, nil},
		{"room capabilities take the body's identity", auth.TokenRequest{Identity: "alice", Capabilities: []string{"room.join?name=hello", "publish?media=AUDIO"}}, nil},
		{"bad room grant", auth.TokenRequest{Identity: "alice", Grants: auth.Grants{Rooms: []string{"a\u202eb"}}}, auth.ErrInvalidClaims},
		{"capabilities disagree with identity", auth.TokenRequest{Identity: "alice", Capabilities: []string{"client.incoming?identity=Bert"}}, auth.ErrInvalidClaims},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok, c, err := f.issuer.Mint(ctx, tc.req)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v, err := f.verify.Verify(ctx, tok)
			if err != nil || v.Subject != c.Subject || v.Grants.Incoming != c.Grants.Incoming {
				t.Fatalf("round trip: %v %+v %+v", err, v, c)
			}
		})
	}
}
