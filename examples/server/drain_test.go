package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/internal/redistest"
)

var drainEnv = map[string]string{"SWITCHBOARD_API_USER": "u-drain", "SWITCHBOARD_API_SECRET": "s-drain-0123456789abc"}

// userToken gets a user token with grants (JSON) from the REST API.
func userToken(t *testing.T, base, identity, grants string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/tokens", strings.NewReader(`{"identity":"`+identity+`","grants":`+grants+`}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(drainEnv["SWITCHBOARD_API_USER"], drainEnv["SWITCHBOARD_API_SECRET"])
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("token: %v %v", err, res)
	}
	var tok struct{ Token string }
	_ = jsonDecode(res, &tok)
	return tok.Token
}

// getJSON returns the status and body of GET url.
func getJSON(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(b))
}

// dialNoReconnect connects a client that does not follow reconnect
// messages (its connection ends with the server's close).
func dialNoReconnect(t *testing.T, base, token string) *client.Client {
	t.Helper()
	api, err := client.NewAPI("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{URL: "ws" + strings.TrimPrefix(base, "http") + "/v1/signal", Token: token, API: api, ReconnectTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// ended waits for c's connection to end and returns its close code.
func ended(t *testing.T, c *client.Client, within time.Duration) websocket.StatusCode {
	t.Helper()
	select {
	case <-c.Done():
		return websocket.CloseStatus(c.Err())
	case <-time.After(within):
		t.Fatalf("connection still open after %v", within)
		return 0
	}
}

// sawReconnect reports whether c's events so far include a reconnect.
func sawReconnect(c *client.Client) bool {
	for {
		select {
		case m := <-c.Events():
			if m.Type == protocol.TypeReconnect && m.Reason == protocol.ReasonDraining {
				return true
			}
		default:
			return false
		}
	}
}

// SIGTERM (run's context ends): /readyz answers draining at once while a
// connection in a room goes on, an idle one is sent away, new connections
// are refused, and the shutdown completes at the drain timeout.
func TestDrainOnStop(t *testing.T) {
	const drainTimeout = 1500 * time.Millisecond
	base, stop, done := startStoppable(t, drainEnv, "-drain-timeout", drainTimeout.String())
	waited := false
	t.Cleanup(func() {
		if !waited {
			stop()
			<-done
		}
	})
	if code, body := getJSON(t, base+"/readyz"); code != 200 || body != `{"status":"ready"}` {
		t.Fatalf("readyz before stop: %d %s", code, body)
	}
	inRoom := dialNoReconnect(t, base, userToken(t, base, "alice", `{"rooms":["*"]}`))
	if _, err := inRoom.Join(ctxT(t, 10*time.Second), client.JoinRequest{Room: "standup"}); err != nil {
		t.Fatal(err)
	}
	idle := dialNoReconnect(t, base, userToken(t, base, "bob", `{}`))

	stop() // SIGTERM
	stopped := time.Now()
	deadline := time.Now().Add(drainTimeout / 2)
	for {
		code, body := getJSON(t, base+"/readyz")
		if code == 503 {
			if body != `{"status":"draining"}` {
				t.Fatalf("readyz while draining: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz still %d %s", code, body)
		}
		time.Sleep(5 * time.Millisecond) // polling an observable state
	}
	select {
	case <-inRoom.Done():
		t.Fatalf("the connection in a room ended when the drain started: %v", inRoom.Err())
	default:
	}
	if code, body := getJSON(t, base+"/healthz"); code != 200 || body != `{"status":"ok"}` {
		t.Fatalf("healthz while draining: %d %s", code, body)
	}
	// New connections are refused once the drain has begun (readyz turns
	// first): poll until one is.
	for tries := 0; ; tries++ {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+userToken(t, base, "carol", `{}`))
		c, res, err := websocket.Dial(ctxT(t, 5*time.Second), "ws"+strings.TrimPrefix(base, "http")+"/v1/signal", &websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			_ = c.CloseNow()
			if tries > 100 {
				t.Fatal("new connections are still accepted while draining")
			}
			continue
		}
		if res == nil || res.StatusCode != 503 {
			t.Fatalf("new connection while draining: %v", err)
		}
		var e struct{ Code string }
		_ = jsonDecode(res, &e)
		if e.Code != "draining" {
			t.Fatalf("new connection refused with %q", e.Code)
		}
		break
	}
	if code := ended(t, idle, 5*time.Second); code != websocket.StatusServiceRestart || !sawReconnect(idle) {
		t.Fatalf("idle connection closed %d (reconnect seen: %v), want reconnect and 1012", code, sawReconnect(idle))
	}

	// The room is cut at the drain timeout, then the server shuts down.
	if code := ended(t, inRoom, drainTimeout+5*time.Second); code != websocket.StatusServiceRestart || !sawReconnect(inRoom) {
		t.Fatalf("room connection closed %d, want reconnect and 1012 at the deadline", code)
	}
	if took := time.Since(stopped); took < drainTimeout {
		t.Fatalf("the room was cut after %v, before the drain timeout %v", took, drainTimeout)
	}
	select {
	case err := <-done:
		waited = true
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not complete after the drain")
	}
	t.Logf("shutdown %v after SIGTERM (drain timeout %v)", time.Since(stopped).Round(time.Millisecond), drainTimeout)
}

// -drain-timeout 0 stops as before the drain existed: open connections are
// closed at once with 1001 and no reconnect message.
func TestStopWithoutDrain(t *testing.T) {
	base, stop, done := startStoppable(t, drainEnv, "-drain-timeout", "0")
	c := dialNoReconnect(t, base, userToken(t, base, "alice", `{"rooms":["*"]}`))
	if _, err := c.Join(ctxT(t, 10*time.Second), client.JoinRequest{Room: "standup"}); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if code := ended(t, c, 5*time.Second); code != websocket.StatusGoingAway || sawReconnect(c) {
		t.Fatalf("closed %d, want 1001 without reconnect", code)
	}
}

// /readyz runs every check within the timeout and names those that failed.
func TestReadyzChecks(t *testing.T) {
	draining := false
	r := &readiness{draining: func() bool { return draining }, timeout: 50 * time.Millisecond, log: slog.New(slog.DiscardHandler)}
	get := func() (int, map[string]any) {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("readyz body %q", w.Body)
		}
		return w.Code, body
	}
	if code, body := get(); code != 200 || body["status"] != "ready" {
		t.Fatalf("no checks: %d %v", code, body)
	}
	ok := func(context.Context) error { return nil }
	r.checks = []readinessCheck{
		{"store", ok},
		{"bus", func(context.Context) error { return errors.New("connection refused: redis://user:secret@10.0.0.1") }},
		{"slow", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
	}
	code, body := get()
	failed, _ := body["failed"].([]any)
	if code != 503 || body["status"] != "unavailable" || !slices.Equal(failed, []any{"bus", "slow"}) {
		t.Fatalf("failing checks: %d %v", code, body)
	}
	if strings.Contains(stringify(body), "secret") {
		t.Fatal("a check's error reached the answer")
	}
	r.checks = []readinessCheck{{"store", ok}}
	if code, body := get(); code != 200 || body["status"] != "ready" {
		t.Fatalf("passing checks: %d %v", code, body)
	}
	draining = true
	if code, body := get(); code != 503 || body["status"] != "draining" {
		t.Fatalf("draining: %d %v", code, body)
	}
}

func stringify(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestDrainFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-drain-timeout", "-1s"},
		{"-ready-check-timeout", "0"},
		{"-drain-reconnect-url", "http://node-2/v1/signal"},
		{"-drain-reconnect-url", "/v1/signal"},
	} {
		if _, err := parseFlags(args, func(string) string { return "" }); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	cfg, err := parseFlags([]string{"-drain-reconnect-url", "wss://node-2.example.com/v1/signal"}, func(string) string { return "" })
	if err != nil || cfg.drain.reconnectURL != "wss://node-2.example.com/v1/signal" || cfg.drain.timeout != 30*time.Second {
		t.Fatalf("%+v %v", cfg.drain, err)
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// A node of a cluster, a real process, gets SIGTERM: /readyz turns
// draining, an idle client is sent to the other node at once, a client in a
// room stays until the drain timeout and then follows, and the process
// exits cleanly.
func TestNodeDrainsOnSIGTERM(t *testing.T) {
	c := newCluster(t, redistest.Addr(t))
	b := c.start("node-b")
	bURL := "ws" + strings.TrimPrefix(b.base, "http") + "/v1/signal"
	const drainTimeout = 2 * time.Second
	a := c.start("node-a", "-drain-timeout", drainTimeout.String(), "-drain-reconnect-url", bURL)
	alice, bob := a.dial("alice", roomGrantsJSON), a.dial("bob", roomGrantsJSON)
	if _, err := alice.Join(ctxT(t, 10*time.Second), client.JoinRequest{Room: "hall"}); err != nil {
		t.Fatal(err)
	}
	if code, body := getJSON(t, a.base+"/readyz"); code != 200 || body != `{"status":"ready"}` {
		t.Fatalf("readyz: %d %s", code, body)
	}

	exited := make(chan error, 1)
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	go func() { exited <- a.cmd.Wait() }()
	deadline := time.Now().Add(drainTimeout / 2)
	for {
		code, body := getJSON(t, a.base+"/readyz")
		if code == 503 && body == `{"status":"draining"}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz after SIGTERM: %d %s", code, body)
		}
		time.Sleep(5 * time.Millisecond) // polling an observable state
	}

	waitType(t, bob, protocol.TypeReconnect)
	if st := waitType(t, bob, protocol.TypeStatus); st.Status != "connected" || bob.URL() != bURL {
		t.Fatalf("bob after reconnect: %+v on %s", st, bob.URL())
	}
	if m := waitType(t, alice, protocol.TypeReconnect); m.URL != bURL {
		t.Fatalf("alice told to reconnect to %q", m.URL)
	}
	if took := time.Since(stopped); took < drainTimeout-100*time.Millisecond {
		t.Fatalf("alice, in a room, was sent away %v after SIGTERM, before the drain timeout", took)
	}
	waitType(t, alice, protocol.TypeStatus)
	if _, err := alice.Join(ctxT(t, 10*time.Second), client.JoinRequest{Room: "hall"}); err != nil {
		t.Fatalf("alice joins again through node-b: %v", err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("node-a exited: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("node-a did not exit after the drain")
	}
	t.Logf("node-a exited %v after SIGTERM (drain timeout %v)", time.Since(stopped).Round(time.Millisecond), drainTimeout)
}
