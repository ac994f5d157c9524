package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/calling/client"
)

// The host's user logs in with the host's own login, gets a Switchboard
// token from the host, and joins a room over the mounted signaling endpoint;
// the host's admin sees the room through the mounted REST API.
func TestEmbeddedBehindHostLogin(t *testing.T) {
	h, closeFn, err := newHost("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	srv := httptest.NewServer(h)
	defer srv.Close()

	login := func(user string) *http.Client {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		res, err := c.Post(srv.URL+"/login", "application/json", strings.NewReader(`{"user":"`+user+`"}`))
		if err != nil || res.StatusCode != http.StatusNoContent {
			t.Fatalf("login %s: %v %v", user, err, res)
		}
		return c
	}
	if res, _ := http.Get(srv.URL + "/rtc/token"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token without login: %d", res.StatusCode)
	}
	alice := login("alice")
	res, err := alice.Get(srv.URL + "/rtc/token")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("token: %v %v", err, res)
	}
	var tok struct{ Token, Signal string }
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	api, _ := client.NewAPI("127.0.0.1")
	c, err := client.Dial(ctx, client.Config{URL: "ws" + strings.TrimPrefix(srv.URL, "http") + tok.Signal, Token: tok.Token, API: api})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	joined, err := c.Join(ctx, client.JoinRequest{Room: "standup"})
	if err != nil {
		t.Fatal(err)
	}

	// The host's REST API: alice is not an admin; admin sees the room's member.
	if res, _ := alice.Get(srv.URL + "/rtc/v1/sessions/" + joined.SessionID); res.StatusCode != http.StatusForbidden {
		t.Fatalf("non-admin REST: %d", res.StatusCode)
	}
	admin := login("admin")
	res, err = admin.Get(srv.URL + "/rtc/v1/sessions/" + joined.SessionID)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("admin REST: %v %v", err, res)
	}
	var sess struct{ Participants []string }
	_ = json.NewDecoder(res.Body).Decode(&sess)
	res.Body.Close()
	if len(sess.Participants) != 1 || sess.Participants[0] != joined.ParticipantID {
		t.Fatalf("session members %v, want [%s]", sess.Participants, joined.ParticipantID)
	}
	// The calls API and the broadcast are mounted too; other paths are JSON 404s.
	res, err = admin.Post(srv.URL+"/rtc/v1/calls", "application/json", strings.NewReader(`{"from":"front-desk","to":"nobody-home"}`))
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("admin POST /rtc/v1/calls: %v %v", err, res)
	}
	res.Body.Close()
	res, err = admin.Post(srv.URL+"/rtc/v1/sessions/"+joined.SessionID+"/broadcast", "application/json", strings.NewReader(`{"text":"hello"}`))
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("admin broadcast: %v %v", err, res)
	}
	res.Body.Close()
	res, err = admin.Get(srv.URL + "/rtc/v1/nothing-here")
	if err != nil {
		t.Fatal(err)
	}
	var miss struct{ Code string }
	_ = json.NewDecoder(res.Body).Decode(&miss)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound || miss.Code != "route_not_found" {
		t.Fatalf("a miss under /rtc/v1: %d %q", res.StatusCode, miss.Code)
	}
}
