package calling_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/transport/v4/test"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

func rawDial(t *testing.T, e *env, tok string) *websocket.Conn {
	t.Helper()
	h := http.Header{}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	c, _, err := websocket.Dial(ctxT(t, 5*time.Second), e.wsURL, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// rawDialOK dials with a valid token and reads the server's status message.
func rawDialOK(t *testing.T, e *env, tok string) *websocket.Conn {
	t.Helper()
	c := rawDial(t, e, tok)
	if m, err := readMsg(t, c); err != nil || m.Type != protocol.TypeStatus || m.Status != "connected" {
		t.Fatalf("first message %+v %v", m, err)
	}
	return c
}

func readMsg(t *testing.T, c *websocket.Conn) (protocol.Message, error) {
	t.Helper()
	_, b, err := c.Read(ctxT(t, 5*time.Second))
	if err != nil {
		return protocol.Message{}, err
	}
	var m protocol.Message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("server sent non-JSON %q", b)
	}
	return m, nil
}

func TestTokenRefusal(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name  string
		token string
		code  websocket.StatusCode
	}{
		{"no token", "", protocol.CloseForbidden},
		{"garbage", "not-a-token", protocol.CloseForbidden},
		{"tampered", e.token("alice", roomGrants) + "x", protocol.CloseForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rawDial(t, e, tc.token)
			m, err := readMsg(t, c)
			if err != nil || m.Type != protocol.TypeError || m.Error.Code != 403 {
				t.Fatalf("first message %+v, %v", m, err)
			}
			_, err = readMsg(t, c)
			if websocket.CloseStatus(err) != tc.code {
				t.Fatalf("close %v, want %d", err, tc.code)
			}
		})
	}
}

// A token whose identity breaks the rule is refused with 406.
func TestIdentityNotAcceptable(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	hk, _ := auth.NewHMACKey(secret)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: hk})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	e := newEnv(t, func(c *calling.Config) { c.Verifier = ver })
	tok := signHS256(t, hk.ID(), secret, map[string]any{"sub": "x y", "jti": "1", "iss": "switchboard", "aud": "switchboard",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(), "grants": map[string]any{}})
	c := rawDial(t, e, tok)
	m, err := readMsg(t, c)
	if err != nil || m.Error == nil || m.Error.Code != 406 {
		t.Fatalf("got %+v %v", m, err)
	}
	if _, err := readMsg(t, c); websocket.CloseStatus(err) != protocol.CloseNotAcceptable {
		t.Fatalf("close %v", err)
	}
}

// 1,000 malformed, oversized and out-of-order messages: each gets an error
// or a clean close; the server and a call in progress are unaffected.
func TestSignalingRobustness(t *testing.T) {
	e := newEnv(t, func(c *calling.Config) { c.MessageRate = 1e6; c.MessageBurst = 1e6 })
	// A call in progress.
	a, b := e.dial("alice"), e.dial("bob")
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "a")
	_ = a.Publish(rooms.AliasMicrophone, mic)
	ctx := ctxT(t, 60*time.Second)
	ja, err := a.Join(ctx, client.JoinRequest{Room: "calm"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Join(ctx, client.JoinRequest{Room: "calm"}); err != nil {
		t.Fatal(err)
	}
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sendOpus(sendCtx, mic)
	trB := waitTrack(t, b, ja.ParticipantID)
	readIntact(t, trB, 10)

	r := rand.New(rand.NewPCG(7, 7))
	bad := []string{
		`{`, `[]`, `null`, `42`, `"join"`, `{"type":""}`, `{"type":"teleport"}`, `{"type":"join"}`,
		`{"type":"join","room":"x","sessionId":"y"}`, `{"type":"answer","sdp":"v=0"}`, `{"type":"candidate"}`,
		`{"type":"mute","streamAlias":"microphone"}`, `{"type":"publish","publish":[{"streamAlias":"","kind":"audio"}]}`,
		`{"type":"join","room":"z","unknown":1}`, `{"type":"ping"} {"type":"ping"}`, `{"type":"unpublish","streamAlias":"nope"}`,
		`{"type":"join","room":"` + strings.Repeat("r", 200) + `"}`, `{"type":"join","room":"q","publish":[{"streamAlias":"m","kind":"smell"}]}`,
		`{"type":"answer"}`, `{"id":"` + strings.Repeat("i", 100) + `","type":"ping"}`, "\x00\xff", `{"type":"candidate","candidate":{"candidate":"garbage"}}`,
	}
	conns := 0
	sent := 0
	for sent < 1000 {
		c := rawDialOK(t, e, e.token(fmt.Sprintf("fuzzer-%d", conns), roomGrants))
		conns++
		for i := 0; i < 50 && sent < 1000; i++ {
			sent++
			var payload []byte
			typ := websocket.MessageText
			switch r.IntN(10) {
			case 0:
				payload = []byte(strings.Repeat("x", protocol.DefaultMaxMessageBytes+1)) // oversized: closes with 1009
			case 1:
				typ = websocket.MessageBinary
				payload = []byte{1, 2, 3}
			default:
				payload = []byte(bad[r.IntN(len(bad))])
			}
			if err := c.Write(ctx, typ, payload); err != nil {
				t.Fatalf("message %d: write: %v", sent, err)
			}
			m, err := readMsg(t, c)
			if err != nil {
				if s := websocket.CloseStatus(err); s != websocket.StatusMessageTooBig {
					t.Fatalf("message %d (%.40q): closed with %v, want an error reply or 1009", sent, payload, err)
				}
				break // the connection ended cleanly; open another
			}
			for m.Type == protocol.TypeCandidate || m.Type == protocol.TypeOffer || m.Type == protocol.TypeJoined {
				m, err = readMsg(t, c) // a join that succeeded: skip its negotiation
				if err != nil {
					t.Fatalf("after join: %v", err)
				}
			}
			if m.Type != protocol.TypeError && m.Type != protocol.TypePong {
				t.Fatalf("message %d (%.40q): reply %+v", sent, payload, m)
			}
		}
		_ = c.Close(websocket.StatusNormalClosure, "")
	}
	// The call is unaffected.
	readIntact(t, trB, 25)
	t.Logf("%d messages over %d connections", sent, conns)
}

// A participant whose network dies (no pong, no close) is removed within
// the keepalive window, and the others are told.
func TestVanishedParticipantRemoved(t *testing.T) {
	e := newEnv(t, func(c *calling.Config) {
		c.PingInterval = 200 * time.Millisecond
		c.PingTimeout = 300 * time.Millisecond
	})
	b := e.dial("bob")
	ctx := ctxT(t, 10*time.Second)
	if _, err := b.Join(ctx, client.JoinRequest{Room: "r"}); err != nil {
		t.Fatal(err)
	}
	ghost := rawDialOK(t, e, e.token("ghost", roomGrants))
	_ = ghost.Write(ctx, websocket.MessageText, []byte(`{"type":"join","id":"1","room":"r"}`))
	// Read until joined, then stop reading: pings go unanswered.
	for {
		m, err := readMsg(t, ghost)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == protocol.TypeJoined {
			break
		}
	}
	start := time.Now()
	waitEvent(t, b, protocol.TypeParticipantJoined, "")
	left := waitEvent(t, b, protocol.TypeParticipantLeft, "")
	if left.Identity != "ghost" {
		t.Fatalf("left: %+v", left)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("removed after %v; keepalive window is 500 ms", d)
	}
}

// Slow consumer: a client that never reads is disconnected when its queue
// fills, and never stalls the others.
func TestSlowConsumerDisconnected(t *testing.T) {
	e := newEnv(t, func(c *calling.Config) { c.WriteQueue = 4; c.MessageRate = 1e6; c.MessageBurst = 1e6 })
	slow := rawDialOK(t, e, e.token("slowpoke", roomGrants))
	ctx := ctxT(t, 10*time.Second)
	// Flood pings without reading the pongs: the queue (4) fills.
	closed := false
	for i := 0; i < 100000 && !closed; i++ {
		if err := slow.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)); err != nil {
			closed = true
		}
	}
	for !closed {
		if _, err := readMsg(t, slow); err != nil {
			if websocket.CloseStatus(err) != protocol.CloseSlowConsumer {
				t.Fatalf("closed with %v, want %d", err, protocol.CloseSlowConsumer)
			}
			closed = true
		}
	}
	// Others still work.
	b := e.dial("bob")
	if _, err := b.Join(ctx, client.JoinRequest{Room: "r"}); err != nil {
		t.Fatal(err)
	}
}

// Everyone leaving leaves no goroutine behind.
func TestNoGoroutineLeak(t *testing.T) {
	report := test.CheckRoutines(t)
	defer report()
	func() {
		e := newEnv(t, nil)
		a, b := e.dial("alice"), e.dial("bob")
		mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "a")
		_ = a.Publish(rooms.AliasMicrophone, mic)
		ctx := ctxT(t, 10*time.Second)
		ja, _ := a.Join(ctx, client.JoinRequest{Room: "r"})
		_, _ = b.Join(ctx, client.JoinRequest{Room: "r"})
		sendCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); sendOpus(sendCtx, mic) }()
		readIntact(t, waitTrack(t, b, ja.ParticipantID), 10)
		stop()
		<-done
		e.close() // the cleanup's second close is a no-op
	}()
}

// The message size limit: exactly MaxMessageBytes is read, one more closes with 1009.
func TestMessageSizeLimit(t *testing.T) {
	e := newEnv(t, func(c *calling.Config) { c.MaxMessageBytes = 4096 })
	c := rawDialOK(t, e, e.token("alice", roomGrants))
	ctx := ctxT(t, 5*time.Second)
	msg := `{"type":"ping","id":"x"}`
	atLimit := msg + strings.Repeat(" ", 4096-len(msg))
	if err := c.Write(ctx, websocket.MessageText, []byte(atLimit)); err != nil {
		t.Fatal(err)
	}
	if m, err := readMsg(t, c); err != nil || m.Type != protocol.TypePong {
		t.Fatalf("at the limit: %+v %v", m, err)
	}
	_ = c.Write(ctx, websocket.MessageText, []byte(atLimit+" "))
	if _, err := readMsg(t, c); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("one past the limit: %v, want 1009", err)
	}
}

// The rate limit: a burst of MessageBurst is answered, the next is 429.
func TestMessageRateLimit(t *testing.T) {
	e := newEnv(t, func(c *calling.Config) { c.MessageRate = 0.001; c.MessageBurst = 5 })
	c := rawDialOK(t, e, e.token("alice", roomGrants))
	ctx := ctxT(t, 5*time.Second)
	for i := range 6 {
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`))
		m, err := readMsg(t, c)
		if err != nil {
			t.Fatal(err)
		}
		want := protocol.TypePong
		if i == 5 {
			want = protocol.TypeError
		}
		if m.Type != want || (i == 5 && m.Error.Code != 429) {
			t.Fatalf("message %d: %+v", i+1, m)
		}
	}
}

// Publications: 8 per connection are accepted, a 9th is refused.
func TestPublicationLimit(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxT(t, 5*time.Second)
	pubs := func(n int) string {
		var parts []string
		for i := range n {
			parts = append(parts, fmt.Sprintf(`{"streamAlias":"s%d","kind":"audio"}`, i))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	c := rawDialOK(t, e, e.token("alice", roomGrants))
	_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"join","id":"1","room":"r","publish":`+pubs(9)+`}`))
	if m, _ := readMsg(t, c); m.Type != protocol.TypeError || m.Error.Code != 400 {
		t.Fatalf("9 publications: %+v", m)
	}
	_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"join","id":"2","room":"r","publish":`+pubs(8)+`}`))
	for {
		m, err := readMsg(t, c)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == protocol.TypeJoined {
			break
		}
		if m.Type == protocol.TypeError {
			t.Fatalf("8 publications: %+v", m.Error)
		}
	}
}

// The Go client's status: connected after Dial, error when the server
// closes the connection, offline after Close.
func TestClientStatus(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial("alice")
	if s := c.Status(); s != client.StatusConnected {
		t.Fatalf("after Dial: %s", s)
	}
	_ = e.srv.Close()
	select {
	case <-c.Done():
	case <-ctxT(t, 10*time.Second).Done():
		t.Fatal("connection did not end")
	}
	if s := c.Status(); s != client.StatusError || c.Err() == nil {
		t.Fatalf("after the server closed: %s %v", s, c.Err())
	}
	_ = c.Close()
	if s := c.Status(); s != client.StatusOffline {
		t.Fatalf("after Close: %s", s)
	}
}
