package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// testApp builds the example's handler from flags, without a listener:
// requests are served in process with any RemoteAddr.
func testApp(t *testing.T, args ...string) http.Handler {
	t.Helper()
	env := map[string]string{"SWITCHBOARD_API_USER": "u-demo", "SWITCHBOARD_API_SECRET": "s-demo-0123456789abc",
		"SWITCHBOARD_DEMO_API_SECRET": "d-demo-0123456789abc"}
	cfg, err := parseFlags(append([]string{"-ice-ip", "127.0.0.1"}, args...), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	return a.handler
}

type jsonError struct{ Code, Message string }

// serve sends one request from remote and returns the status and, for a
// JSON error, its code.
func serve(t *testing.T, h http.Handler, method, path, remote, body string) (int, jsonError, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = remote
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var e jsonError
	if rec.Code >= 400 {
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" {
			t.Fatalf("%s %s: %d with a body that is not {code,message}: %q", method, path, rec.Code, rec.Body.String())
		}
	}
	return rec.Code, e, rec.Header()
}

// The demo page and its token endpoint serve loopback clients only, unless
// the server was started with -demo-insecure-public.
func TestDemoRefusesNonLoopbackClients(t *testing.T) {
	h := testApp(t)
	for _, remote := range []string{"192.0.2.10:40000", "[2001:db8::1]:40000", "10.0.0.2:1"} {
		for _, path := range []string{"/demo/token", "/", "/demo.js", "/demo/recordings"} {
			method := "GET"
			if path == "/demo/token" {
				method = "POST"
			}
			status, e, _ := serve(t, h, method, path, remote, `{"identity":"alice"}`)
			if status != http.StatusForbidden || e.Code != "demo_loopback_only" {
				t.Errorf("%s %s from %s: %d %q, want 403 demo_loopback_only", method, path, remote, status, e.Code)
			}
		}
	}
	for _, remote := range []string{"127.0.0.1:40000", "[::1]:40000", "[::ffff:127.0.0.1]:40000"} {
		if status, e, _ := serve(t, h, "POST", "/demo/token", remote, `{"identity":"alice"}`); status != http.StatusCreated {
			t.Errorf("from %s: %d %q, want 201", remote, status, e.Code)
		}
	}

	open := testApp(t, "-demo-insecure-public")
	if status, e, _ := serve(t, open, "POST", "/demo/token", "192.0.2.10:40000", `{"identity":"alice"}`); status != http.StatusCreated {
		t.Errorf("-demo-insecure-public: %d %q, want 201", status, e.Code)
	}
	// A public demo never serves recordings, to anyone.
	for _, remote := range []string{"192.0.2.10:40000", "127.0.0.1:40000"} {
		if status, e, _ := serve(t, open, "GET", "/demo/recordings", remote, ""); status != http.StatusForbidden || e.Code != "demo_recordings_loopback_only" {
			t.Errorf("-demo-insecure-public, /demo/recordings from %s: %d %q", remote, status, e.Code)
		}
	}

	// Without the demo nothing unauthenticated mints a token.
	off := testApp(t, "-demo=false")
	req := httptest.NewRequest("POST", "/demo/token", strings.NewReader(`{"identity":"alice"}`))
	req.RemoteAddr = "127.0.0.1:40000"
	rec := httptest.NewRecorder()
	off.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Errorf("-demo=false: /demo/token answered %d, want 404", rec.Code)
	}
	req = httptest.NewRequest("GET", "/demo/recordings", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	rec = httptest.NewRecorder()
	off.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Errorf("-demo=false: /demo/recordings answered %d, want 404", rec.Code)
	}
}

// Demo identities get the demo- prefix, in the demo account.
func TestDemoTokenIdentities(t *testing.T) {
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	d := newDemo(demoConfig{on: true, perMinute: 100}, iss, time.Now)
	for _, tc := range []struct {
		body, identity string
		status         int
		code           string
	}{
		{`{"identity":"alice"}`, "demo-alice", 201, ""},
		{`{"identity":"demo-bob"}`, "demo-bob", 201, ""},
		{`{"identity":"a"}`, "demo-a", 201, ""},
		{`{"identity":"no spaces"}`, "", 400, "invalid_identity"},
		{`{"identity":"` + strings.Repeat("x", 60) + `"}`, "", 400, "invalid_identity"},
		{`nope`, "", 400, "invalid_json"},
	} {
		req := httptest.NewRequest("POST", "/demo/token", strings.NewReader(tc.body))
		req.RemoteAddr = "127.0.0.1:5000"
		rec := httptest.NewRecorder()
		d.tokens(rec, req)
		var out struct{ Token, Identity, Code string }
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		if rec.Code != tc.status || out.Code != tc.code || out.Identity != tc.identity {
			t.Errorf("%s: %d %q %q, want %d %q %q", tc.body, rec.Code, out.Code, out.Identity, tc.status, tc.code, tc.identity)
			continue
		}
		if tc.status != 201 {
			continue
		}
		c, err := ver.Verify(context.Background(), out.Token)
		if err != nil || c.Subject != tc.identity || c.Account != demoAccount || c.Grants.Admin {
			t.Errorf("%s: claims %+v %v", tc.body, c, err)
		}
	}
}

// -demo-tokens-per-minute is per client address: the limit passes, one past
// it is 429 rate_limited with Retry-After, other addresses are unaffected,
// and the next window allows again.
func TestDemoTokenRateLimit(t *testing.T) {
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	const limit = 3
	d := newDemo(demoConfig{on: true, perMinute: limit}, iss, func() time.Time { return now })
	h := http.HandlerFunc(d.tokens)
	for i := range limit {
		if status, e, _ := serve(t, h, "POST", "/demo/token", "127.0.0.1:5000", `{"identity":"alice"}`); status != 201 {
			t.Fatalf("token %d of %d: %d %q", i+1, limit, status, e.Code)
		}
	}
	now = now.Add(20 * time.Second)
	status, e, hdr := serve(t, h, "POST", "/demo/token", "127.0.0.1:6000", `{"identity":"alice"}`)
	if status != http.StatusTooManyRequests || e.Code != "rate_limited" || hdr.Get("Retry-After") != "40" {
		t.Fatalf("one past the limit: %d %q Retry-After %q, want 429 rate_limited 40", status, e.Code, hdr.Get("Retry-After"))
	}
	if status, _, _ := serve(t, h, "POST", "/demo/token", "127.0.0.2:5000", `{"identity":"alice"}`); status != 201 {
		t.Fatalf("another address: %d", status)
	}
	// IPv6 clients are counted per /64.
	for i := range limit {
		remote := "[2001:db8::" + strconv.Itoa(i+1) + "]:1"
		if status, _, _ := serve(t, h, "POST", "/demo/token", remote, `{"identity":"alice"}`); status != 201 {
			t.Fatalf("IPv6 token %d: %d", i+1, status)
		}
	}
	if status, _, _ := serve(t, h, "POST", "/demo/token", "[2001:db8::ff]:1", `{"identity":"alice"}`); status != 429 {
		t.Fatalf("another address of the same /64: %d, want 429", status)
	}
	now = now.Add(40 * time.Second)
	if status, _, _ := serve(t, h, "POST", "/demo/token", "127.0.0.1:5000", `{"identity":"alice"}`); status != 201 {
		t.Fatalf("next window: %d", status)
	}
}

// The limiter remembers a bounded number of addresses: when full of live
// windows a new address is refused, and ended windows make room.
func TestAddrLimiterBounded(t *testing.T) {
	now := time.Unix(0, 0)
	l := newAddrLimiter(1, time.Minute, 2, func() time.Time { return now })
	for _, k := range []string{"a", "b"} {
		if ok, _ := l.allow(k); !ok {
			t.Fatalf("%s refused", k)
		}
	}
	if ok, _ := l.allow("c"); ok {
		t.Fatal("a third address was admitted into a full limiter")
	}
	now = now.Add(time.Minute)
	if ok, _ := l.allow("c"); !ok || len(l.seen) != 1 {
		t.Fatalf("after the windows ended: ok=%v, %d remembered", ok, len(l.seen))
	}
	if _, err := parseFlags([]string{"-demo-tokens-per-minute", "0"}, func(string) string { return "" }); err == nil {
		t.Fatal("-demo-tokens-per-minute 0 accepted")
	}
}

// A demo token cannot answer a call the API places to an identity of the
// API client's account, even one named like a demo identity, nor join that
// account's rooms.
func TestDemoTokenCannotReachTheAPIAccount(t *testing.T) {
	env := map[string]string{"SWITCHBOARD_API_USER": "u-demo", "SWITCHBOARD_API_SECRET": "s-demo-0123456789abc"}
	base := startServer(t, env)
	api := func(method, path, body string, out any) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(env["SWITCHBOARD_API_USER"], env["SWITCHBOARD_API_SECRET"])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
			}
		}
		return res.StatusCode
	}
	var real struct{ Token string }
	if st := api("POST", "/v1/tokens", `{"identity":"demo-bob","grants":{"incoming":true,"rooms":["*"]}}`, &real); st != 201 {
		t.Fatalf("real token: %d", st)
	}
	res, err := http.Post(base+"/demo/token", "application/json", strings.NewReader(`{"identity":"bob"}`))
	if err != nil {
		t.Fatal(err)
	}
	var demoTok struct{ Token, Identity string }
	_ = json.NewDecoder(res.Body).Decode(&demoTok)
	res.Body.Close()
	if res.StatusCode != 201 || demoTok.Identity != "demo-bob" {
		t.Fatalf("demo token: %d %q", res.StatusCode, demoTok.Identity)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pionAPI, err := client.NewAPI("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dial := func(tok string) *client.Client {
		t.Helper()
		c, err := client.Dial(ctx, client.Config{URL: "ws" + strings.TrimPrefix(base, "http") + "/v1/signal", Token: tok, API: pionAPI})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	next := func(c *client.Client, typ string) protocol.Message {
		t.Helper()
		for {
			select {
			case m := <-c.Events():
				if m.Type == typ {
					return m
				}
			case <-ctx.Done():
				t.Fatalf("no %s event", typ)
			}
		}
	}

	realBob, demoBob := dial(real.Token), dial(demoTok.Token)
	var call calling.CallInfo
	if st := api("POST", "/v1/calls", `{"from":"reception","to":"demo-bob"}`, &call); st != 201 {
		t.Fatalf("place call: %d", st)
	}
	if in := next(realBob, protocol.TypeIncoming); in.CallID != call.ID {
		t.Fatalf("the real demo-bob rang for %q, want %q", in.CallID, call.ID)
	}
	if err := demoBob.Accept(call.ID, protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	if e := next(demoBob, protocol.TypeError); e.Error == nil || e.Error.Reason != "no_such_call" {
		t.Fatalf("the demo token's accept: %+v, want no_such_call", e.Error)
	}
	var info calling.CallInfo
	if st := api("GET", "/v1/calls/"+call.ID, "", &info); st != 200 || info.State != protocol.StateRinging {
		t.Fatalf("after the demo token's accept the call is %d %q, want still ringing", st, info.State)
	}
	api("DELETE", "/v1/calls/"+call.ID, "", nil)

	// Rooms: the same name is a different room in each account.
	realJoined, err := dial(real.Token).Join(ctx, client.JoinRequest{Room: "standup"})
	if err != nil {
		t.Fatal(err)
	}
	demoJoined, err := dial(demoTok.Token).Join(ctx, client.JoinRequest{Room: "standup"})
	if err != nil {
		t.Fatal(err)
	}
	var sess struct{ Participants []string }
	if st := api("GET", "/v1/sessions/"+realJoined.SessionID, "", &sess); st != 200 ||
		len(sess.Participants) != 1 || sess.Participants[0] != realJoined.ParticipantID {
		t.Fatalf("the API account's room: %d %v, want only %s (demo joined %s/%s)", st, sess.Participants,
			realJoined.ParticipantID, demoJoined.SessionID, demoJoined.ParticipantID)
	}
}
