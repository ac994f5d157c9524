package calling_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// dialRefused dials with tok and expects the server to refuse the upgrade
// with status and a JSON body carrying code.
func dialRefused(t *testing.T, e *env, tok string, status int, code string) {
	t.Helper()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	c, resp, err := websocket.Dial(ctxT(t, 5*time.Second), e.wsURL, &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		_ = c.CloseNow()
		t.Fatalf("dial accepted; want HTTP %d %s", status, code)
	}
	if resp == nil {
		t.Fatalf("dial: %v (no HTTP response)", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body struct{ Code, Message string }
	if resp.StatusCode != status || json.Unmarshal(b, &body) != nil || body.Code != code || body.Message == "" {
		t.Fatalf("refusal: HTTP %d %q; want %d with code %s", resp.StatusCode, b, status, code)
	}
}

// waitUsage waits until the server's usage matches want (connections close
// asynchronously: the server releases a slot after its cleanup).
func waitUsage(t *testing.T, e *env, want calling.Usage) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := e.srv.Usage()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("usage %+v, want %+v", got, want)
		}
		time.Sleep(5 * time.Millisecond) // polling an observable state, not synchronising on time
	}
}

func closeAll(cs []*websocket.Conn) {
	for _, c := range cs {
		_ = c.Close(websocket.StatusNormalClosure, "")
	}
}

// ConnectionsPerIdentity: the limit is accepted, one more is HTTP 429
// before the upgrade, other identities are unaffected, and closing one
// makes room; closing all and opening all again works (nothing leaks).
func TestConnectionsPerIdentityLimit(t *testing.T) {
	e := newEnv(t, func(c *calling.Config) { c.Limits.ConnectionsPerIdentity = 3 })
	tok := e.token("alice", roomGrants)
	for round := range 2 {
		var cs []*websocket.Conn
		for range 3 {
			cs = append(cs, rawDialOK(t, e, tok))
		}
		dialRefused(t, e, tok, http.StatusTooManyRequests, "too_many_connections")
		bob := rawDialOK(t, e, e.token("bob", roomGrants))
		_ = cs[0].Close(websocket.StatusNormalClosure, "")
		waitUsage(t, e, calling.Usage{Connections: 3})
		cs[0] = rawDialOK(t, e, tok)
		dialRefused(t, e, tok, http.StatusTooManyRequests, "too_many_connections")
		closeAll(append(cs, bob))
		waitUsage(t, e, calling.Usage{})
		t.Logf("round %d: 3 accepted, the 4th refused, released on close", round+1)
	}
}

// Connections: the server-wide cap counts every identity and bad tokens too.
func TestServerConnectionLimit(t *testing.T) {
	e := newEnv(t, func(c *calling.Config) { c.Limits.Connections = 3 })
	var cs []*websocket.Conn
	for i := range 3 {
		cs = append(cs, rawDialOK(t, e, e.token(fmt.Sprintf("user-%d", i), roomGrants)))
	}
	dialRefused(t, e, e.token("late", roomGrants), http.StatusServiceUnavailable, "server_full")
	dialRefused(t, e, "not-a-token", http.StatusServiceUnavailable, "server_full")
	_ = cs[1].Close(websocket.StatusNormalClosure, "")
	waitUsage(t, e, calling.Usage{Connections: 2})
	cs[1] = rawDialOK(t, e, e.token("late", roomGrants))
	closeAll(cs)
	waitUsage(t, e, calling.Usage{})
	// A connection refused for its token also gives its slot back.
	c := rawDial(t, e, "not-a-token")
	if _, err := readMsg(t, c); err != nil {
		t.Fatal(err)
	}
	if _, err := readMsg(t, c); websocket.CloseStatus(err) != protocol.CloseForbidden {
		t.Fatalf("bad token: %v", err)
	}
	waitUsage(t, e, calling.Usage{})
}

func joinErr(t *testing.T, c *client.Client, room string) *protocol.Error {
	t.Helper()
	_, err := c.Join(ctxT(t, 10*time.Second), client.JoinRequest{Room: room})
	if err == nil {
		return nil
	}
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		t.Fatalf("join %s: %v", room, err)
	}
	return pe
}

func wantRefusal(t *testing.T, pe *protocol.Error, code int, reason string) {
	t.Helper()
	if pe == nil || pe.Code != code || pe.Reason != reason {
		t.Fatalf("got %+v, want %d %s", pe, code, reason)
	}
}

// PeerConnections: the limit's joins get a PeerConnection, one more gets
// 503 server_full; a participant leaving frees its slot; all leaving and
// all joining again works.
func TestPeerConnectionLimit(t *testing.T) {
	e := newEnv(t, func(c *calling.Config) { c.Limits.PeerConnections = 2 })
	for round := range 2 {
		a, b, c := e.dial("alice"), e.dial("bob"), e.dial("carol")
		if pe := joinErr(t, a, "r"); pe != nil {
			t.Fatal(pe)
		}
		if pe := joinErr(t, b, "r"); pe != nil {
			t.Fatal(pe)
		}
		wantRefusal(t, joinErr(t, c, "r"), 503, "server_full")
		waitUsage(t, e, calling.Usage{Connections: 3, PeerConnections: 2, Rooms: 1})
		_ = a.Close()
		waitUsage(t, e, calling.Usage{Connections: 2, PeerConnections: 1, Rooms: 1})
		if pe := joinErr(t, c, "r"); pe != nil {
			t.Fatalf("round %d, after one left: %v", round+1, pe)
		}
		_ = b.Close()
		_ = c.Close()
		waitUsage(t, e, calling.Usage{})
		e.clients = nil
	}
}

// Rooms: joins that open the limit's rooms work, one more room is 503
// server_full, joining a live room still works, and a room that empties
// frees its slot.
func TestRoomLimit(t *testing.T) {
	e := newEnv(t, func(c *calling.Config) { c.Limits.Rooms = 2 })
	a, b, c, d := e.dial("alice"), e.dial("bob"), e.dial("carol"), e.dial("dave")
	if pe := joinErr(t, a, "one"); pe != nil {
		t.Fatal(pe)
	}
	if pe := joinErr(t, b, "two"); pe != nil {
		t.Fatal(pe)
	}
	wantRefusal(t, joinErr(t, c, "three"), 503, "server_full")
	if pe := joinErr(t, d, "one"); pe != nil {
		t.Fatalf("joining a live room: %v", pe)
	}
	_ = b.Close()
	waitUsage(t, e, calling.Usage{Connections: 3, PeerConnections: 2, Rooms: 1})
	if pe := joinErr(t, c, "three"); pe != nil {
		t.Fatalf("after room two emptied: %v", pe)
	}
}

// Join rate on the server: JoinBurst joins pass at once, one more is 429
// join_rate_limited; after 1/JoinRate on the (injected) clock one more passes.
func TestServerJoinRateLimit(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, func(c *calling.Config) {
		c.Clock = clk
		c.Limits.JoinRate, c.Limits.JoinBurst = 1, 2
	})
	a, b, c := e.dial("alice"), e.dial("bob"), e.dial("carol")
	if pe := joinErr(t, a, "r"); pe != nil {
		t.Fatal(pe)
	}
	if pe := joinErr(t, b, "r"); pe != nil {
		t.Fatal(pe)
	}
	wantRefusal(t, joinErr(t, c, "r"), 429, "join_rate_limited")
	clk.Advance(time.Second)
	if pe := joinErr(t, c, "r"); pe != nil {
		t.Fatalf("after a second: %v", pe)
	}
}

// Join rate per connection: failed attempts count; ConnJoinBurst attempts
// reach the join logic, one more is 429 join_rate_limited, and the bucket
// refills with time.
func TestConnectionJoinRateLimit(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, func(c *calling.Config) {
		c.Clock = clk
		c.Limits.ConnJoinRate, c.Limits.ConnJoinBurst = 1, 3
	})
	c := e.dialToken(e.token("alice", auth.Grants{Rooms: []string{"mine"}}))
	for range 3 {
		wantRefusal(t, joinErr(t, c, "theirs"), 403, "room_not_granted")
	}
	wantRefusal(t, joinErr(t, c, "theirs"), 429, "join_rate_limited")
	// Another connection is not affected.
	if pe := joinErr(t, e.dial("bob"), "r"); pe != nil {
		t.Fatal(pe)
	}
	clk.Advance(time.Second)
	wantRefusal(t, joinErr(t, c, "theirs"), 403, "room_not_granted")
	wantRefusal(t, joinErr(t, c, "theirs"), 429, "join_rate_limited")
}

// A negative limit turns it off; a bad CandidateNetworks entry fails New.
func TestLimitsConfig(t *testing.T) {
	e := newEnv(t, func(c *calling.Config) { c.Limits.ConnectionsPerIdentity = -1 })
	tok := e.token("alice", roomGrants)
	for range calling.DefaultConnectionsPerIdentity + 1 {
		rawDialOK(t, e, tok)
	}
	cfg := calling.Config{Rooms: e.rooms, Verifier: nil}
	cfg.Limits.CandidateNetworks = []string{"10.0.0.0/33"}
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	cfg.Verifier, _ = auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	if _, err := calling.New(cfg); err == nil {
		t.Fatal("New accepted a bad CandidateNetworks entry")
	}
}

// readUntilClosed reads everything the server sent, then its close frame.
func readUntilClosed(t *testing.T, c *websocket.Conn) (msgs []protocol.Message, code websocket.StatusCode) {
	t.Helper()
	for {
		m, err := readMsg(t, c)
		if err != nil {
			return msgs, websocket.CloseStatus(err)
		}
		msgs = append(msgs, m)
	}
}

func countErrors(msgs []protocol.Message, reason string) int {
	n := 0
	for _, m := range msgs {
		if m.Type == protocol.TypeError && m.Error != nil && m.Error.Reason == reason {
			n++
		}
	}
	return n
}

// A client that floods 2,000 pings without reading gets exactly one
// rate_limited error and is closed with 4429, never as a slow consumer
// (4008) filled by replies to its own excess messages.
func TestFloodClosedWithRateLimitCode(t *testing.T) {
	e := newEnv(t, nil) // default rate, burst, queue and flood limit
	c := rawDialOK(t, e, e.token("flooder", roomGrants))
	ctx := ctxT(t, 10*time.Second)
	start := time.Now()
	for i := range 2000 {
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)); err != nil {
			t.Logf("write %d: %v (the server closed the connection)", i, err)
			break
		}
	}
	msgs, code := readUntilClosed(t, c)
	if code != protocol.CloseRateLimited {
		t.Fatalf("closed with %d after %d messages, want %d", code, len(msgs), protocol.CloseRateLimited)
	}
	if n := countErrors(msgs, "rate_limited"); n != 1 {
		t.Fatalf("%d rate_limited errors, want exactly 1", n)
	}
	// The pongs of the burst (those the loop answered before the close; the
	// real clock refills the bucket at 50/s meanwhile) and the one error.
	if most := calling.DefaultMessageBurst + 1 + int(time.Since(start).Seconds()*calling.DefaultMessageRate) + 1; len(msgs) > most {
		t.Fatalf("%d replies, want at most %d", len(msgs), most)
	}
	// The others are unaffected.
	rawDialOK(t, e, e.token("flooder", roomGrants))
}

// FloodMessages at the limit and one past it: after the warning, that many
// dropped messages keep the connection (a refilled bucket then forgives
// them); one more closes it with 4429.
func TestFloodMessagesLimit(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, func(c *calling.Config) {
		c.Clock = clk
		c.MessageRate, c.MessageBurst = 1, 3
		c.Limits.FloodMessages = 5
	})
	ctx := ctxT(t, 10*time.Second)
	send := func(c *websocket.Conn, n int) {
		for range n {
			if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// At the limit: 3 pongs, 1 warning, 5 dropped; still open.
	c := rawDialOK(t, e, e.token("alice", roomGrants))
	send(c, 3+1+5)
	var got []protocol.Message
	for range 4 { // the error comes from the reader, the pongs from the loop: any order
		m, err := readMsg(t, c)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m)
	}
	if countErrors(got, "rate_limited") != 1 {
		t.Fatalf("want 3 pongs and 1 rate_limited: %+v", got)
	}
	clk.Advance(3 * time.Second) // the bucket refills: the past is forgiven
	send(c, 1)
	if m, err := readMsg(t, c); err != nil || m.Type != protocol.TypePong {
		t.Fatalf("after the refill: %+v %v", m, err)
	}
	// One past it: closed with 4429.
	c2 := rawDialOK(t, e, e.token("bob", roomGrants))
	send(c2, 3+1+5+1)
	msgs, code := readUntilClosed(t, c2)
	if code != protocol.CloseRateLimited || countErrors(msgs, "rate_limited") != 1 || len(msgs) > 4 {
		t.Fatalf("closed with %d after %+v", code, msgs)
	}
}

// Every way a connection ends gives its slots back: a normal close, a
// leave, a flood (4429), an oversized message (1009), a bad token, a joined
// client that drops its socket without a close frame, a refused join; the
// server then holds nothing.
func TestLimitCountersReleasedOnEveryExit(t *testing.T) {
	e := newEnv(t, func(c *calling.Config) { c.Limits.PeerConnections = 2; c.MaxMessageBytes = 1024 })
	ctx := ctxT(t, 20*time.Second)
	tok := func(name string) string { return e.token(name, roomGrants) }

	normal := rawDialOK(t, e, tok("normal"))
	_ = normal.Close(websocket.StatusNormalClosure, "")

	leaver := rawDialOK(t, e, tok("leaver"))
	joinRaw(t, leaver)
	sendJSON(t, leaver, `{"type":"leave"}`)
	if _, code := readUntilClosed(t, leaver); code != websocket.StatusNormalClosure {
		t.Fatalf("leaver closed with %d", code)
	}

	flooder := rawDialOK(t, e, tok("flooder"))
	for range 300 {
		_ = flooder.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`))
	}
	if _, code := readUntilClosed(t, flooder); code != protocol.CloseRateLimited {
		t.Fatalf("flooder closed with %d", code)
	}

	big := rawDialOK(t, e, tok("big"))
	_ = big.Write(ctx, websocket.MessageText, make([]byte, 2048))
	if _, code := readUntilClosed(t, big); code != websocket.StatusMessageTooBig {
		t.Fatalf("big closed with %d", code)
	}

	bad := rawDial(t, e, "bad-token")
	if _, code := readUntilClosed(t, bad); code != protocol.CloseForbidden {
		t.Fatalf("bad token closed with %d", code)
	}
	waitUsage(t, e, calling.Usage{})

	gone := rawDialOK(t, e, tok("gone"))
	joinRaw(t, gone)
	stayer := e.dial("stayer")
	if pe := joinErr(t, stayer, "r"); pe != nil {
		t.Fatal(pe)
	}
	refused := e.dial("refused")
	wantRefusal(t, joinErr(t, refused, "r"), 503, "server_full")
	waitUsage(t, e, calling.Usage{Connections: 3, PeerConnections: 2, Rooms: 1})
	_ = gone.CloseNow() // no close frame
	_ = stayer.Close()
	_ = refused.Close()
	waitUsage(t, e, calling.Usage{})
}

// Call rate per connection: ConnCallBurst calls pass the rate (refused
// ones count: these go to an identity that is not acceptable, 406), one
// more is 429 call_rate_limited, and the bucket refills.
func TestConnectionCallRateLimit(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, func(c *calling.Config) {
		c.Clock = clk
		c.Limits.ConnCallRate, c.Limits.ConnCallBurst = 1, 3
	})
	alice := e.phone("alice")
	ctx := ctxT(t, 10*time.Second)
	call := func(c *client.Client) *protocol.Error {
		t.Helper()
		_, err := c.Call(ctx, "no", protocol.CallOptions{Audio: true})
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			t.Fatalf("call: %v", err)
		}
		return pe
	}
	for range 3 {
		wantRefusal(t, call(alice), 406, "identity_not_acceptable")
	}
	wantRefusal(t, call(alice), 429, "call_rate_limited")
	// Another connection of the same identity has its own bucket.
	wantRefusal(t, call(e.phone("alice")), 406, "identity_not_acceptable")
	clk.Advance(time.Second)
	wantRefusal(t, call(alice), 406, "identity_not_acceptable")
	wantRefusal(t, call(alice), 429, "call_rate_limited")
}
