package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
)

func base64Decode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func TestValidIdentity(t *testing.T) {
	cases := map[string]bool{
		"abc": true, "ab": false, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
		"Zoë_Ω-1+2=3/4.5": true, "用户名": true, "with space": false, "semi;colon": false,
		"at@sign": false, "": false, strings.Repeat("é", 64): true, "tab\tx": false,
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
		out, in  bool
		err      error
	}{
		{[]string{"client.outgoing?identity=Bert"}, "Bert", true, false, nil},
		{[]string{"client.outgoing?identity=Bert&foo=1", "client.incoming?identity=Bert"}, "Bert", true, true, nil},
		{[]string{"client.incoming?identity=Bert", "client.outgoing?identity=Ernie"}, "", false, false, auth.ErrInvalidClaims},
		{[]string{"client.outgoing?identity=B"}, "", false, false, auth.ErrInvalidIdentity},
		{[]string{"client.teleport?identity=Bert"}, "", false, false, auth.ErrInvalidClaims},
		{[]string{"client.outgoing?identity=%zz"}, "", false, false, auth.ErrInvalidClaims},
		{nil, "", false, false, auth.ErrInvalidClaims},
	}
	for _, tc := range cases {
		id, g, err := auth.ParseCapabilities(tc.caps)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("%v: err %v, want %v", tc.caps, err, tc.err)
			continue
		}
		if id != tc.identity || g.Outgoing != tc.out || g.Incoming != tc.in {
			t.Errorf("%v: got %q %+v", tc.caps, id, g)
		}
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
