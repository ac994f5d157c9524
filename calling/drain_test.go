package calling_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// drainPair starts two servers that accept the same tokens (a's issuer
// mints them), as two nodes of one deployment do.
func drainPair(t *testing.T) (a, b *env) {
	t.Helper()
	var ver *auth.Verifier
	a = newEnv(t, func(c *calling.Config) { ver = c.Verifier })
	b = newEnv(t, func(c *calling.Config) { c.Verifier = ver })
	return a, b
}

// startDrain runs a.srv.Drain on a goroutine and waits until the server
// says it is draining; the channel gets Drain's result.
func startDrain(t *testing.T, e *env, ctx context.Context, opts calling.DrainOptions) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- e.srv.Drain(ctx, opts) }()
	waitFor(t, e.srv.Draining)
	return done
}

// drainResult waits for Drain's result.
func drainResult(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-ctxT(t, 10*time.Second).Done():
		t.Fatal("Drain did not return")
		return nil
	}
}

// loopTurn sends a ping and waits for its pong: the connection's loop has
// taken a turn since (and so has checked whether a draining server keeps it).
func loopTurn(t *testing.T, c *client.Client, l *eventLog, id string) {
	t.Helper()
	if err := c.Send(protocol.Message{Type: protocol.TypePing, ID: id}); err != nil {
		t.Fatal(err)
	}
	l.wait(t, "pong "+id, 1, func(m protocol.Message) bool { return m.Type == protocol.TypePong && m.ID == id })
}

func isReconnect(url string) func(protocol.Message) bool {
	return func(m protocol.Message) bool {
		return m.Type == protocol.TypeReconnect && m.Reason == protocol.ReasonDraining && m.URL == url
	}
}

func TestDrainIdleConnectionsReconnectElsewhere(t *testing.T) {
	a, b := drainPair(t)
	if err := a.srv.Drain(context.Background(), calling.DrainOptions{ReconnectURL: "http://node-2/v1/signal"}); !errors.Is(err, calling.ErrReconnectURL) || a.srv.Draining() {
		t.Fatalf("Drain with an http URL: %v, draining %v", err, a.srv.Draining())
	}
	raw := rawDialOK(t, a, a.token("raw-1", roomGrants))
	alice := a.dial("alice")
	log := logEvents(t, alice)
	var minted atomic.Int32 // dave's tokens come from a source: a fresh one for the new connection
	dave := a.dialConfig(client.Config{TokenSource: func(context.Context) (string, error) {
		minted.Add(1)
		return a.token("dave", roomGrants), nil
	}})
	daveL := logEvents(t, dave)

	done := startDrain(t, a, ctxT(t, 20*time.Second), calling.DrainOptions{ReconnectURL: b.wsURL})

	// New connections are refused before the upgrade.
	dialRefused(t, a, a.token("late", roomGrants), http.StatusServiceUnavailable, "draining")

	// An idle connection hears where to go, then the close 1012.
	m, err := readMsg(t, raw)
	if err != nil || !isReconnect(b.wsURL)(m) {
		t.Fatalf("raw connection got %+v %v, want reconnect to %s", m, err, b.wsURL)
	}
	if _, err := readMsg(t, raw); websocket.CloseStatus(err) != websocket.StatusServiceRestart {
		t.Fatalf("close %v, want 1012", err)
	}

	// The Go client follows it to the other server and works there.
	log.wait(t, "reconnect", 1, isReconnect(b.wsURL))
	st := log.wait(t, "status after reconnect", 1, isType(protocol.TypeStatus))
	if st.Status != "connected" || st.Identity != "alice" || alice.URL() != b.wsURL || alice.Status() != client.StatusConnected {
		t.Fatalf("after reconnect: %+v, url %s, status %s", st, alice.URL(), alice.Status())
	}
	j, err := alice.Join(ctxT(t, 5*time.Second), client.JoinRequest{Room: "after-drain"})
	if err != nil || j.Room != "after-drain" {
		t.Fatalf("join on the new server: %+v %v", j, err)
	}
	daveL.wait(t, "dave on b", 1, isType(protocol.TypeStatus))
	if n := minted.Load(); n != 2 || dave.URL() != b.wsURL {
		t.Fatalf("dave's token source was asked %d times (want 2: Dial, reconnect), url %s", n, dave.URL())
	}
	if got := b.srv.Usage(); got.Connections != 2 || got.Rooms != 1 {
		t.Fatalf("server b usage %+v, want alice's and dave's connections and alice's room", got)
	}

	// Both connections have gone: Drain returns, and calling it again too.
	if err := drainResult(t, done); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if got := a.srv.Usage(); got.Connections != 0 {
		t.Fatalf("server a usage %+v after Drain", got)
	}
	if err := a.srv.Drain(ctxT(t, time.Second), calling.DrainOptions{}); err != nil {
		t.Fatalf("second Drain: %v", err)
	}
	dialRefused(t, a, a.token("later", roomGrants), http.StatusServiceUnavailable, "draining")
}

// With no URL the client reconnects to the same one; when nothing there
// takes it within ReconnectTimeout, the client ends with the refusal.
func TestDrainReconnectGivesUp(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dialConfig(client.Config{Token: e.token("alice", roomGrants), ReconnectTimeout: 300 * time.Millisecond})
	log := logEvents(t, c)
	done := startDrain(t, e, ctxT(t, 20*time.Second), calling.DrainOptions{})
	log.wait(t, "reconnect", 1, isReconnect(""))
	select {
	case <-c.Done():
	case <-ctxT(t, 10*time.Second).Done():
		t.Fatal("the client did not give up")
	}
	if err := c.Err(); err == nil || !bytes.Contains([]byte(err.Error()), []byte("503")) || c.Status() != client.StatusError {
		t.Fatalf("client ended with %v, status %s; want the 503 refusal", err, c.Status())
	}
	if err := drainResult(t, done); err != nil {
		t.Fatalf("Drain: %v", err)
	}
}

// packetCounter counts the intact packets read from tr until it ends.
func packetCounter(tr *client.RemoteTrack) *atomic.Int64 {
	var n atomic.Int64
	go func() { // ends when the track's PeerConnection closes
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if len(pkt.Payload) > 5 && bytes.Equal(pkt.Payload, opusFrame(binary.BigEndian.Uint32(pkt.Payload[1:5]))) {
				n.Add(1)
			}
		}
	}()
	return &n
}

// waitPackets waits until n has counted more packets than it had.
func waitPackets(t *testing.T, what string, n *atomic.Int64, more int64) {
	t.Helper()
	want := n.Load() + more
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d packets, want %d", what, n.Load(), want)
		}
		time.Sleep(10 * time.Millisecond) // polling a counter, not synchronising on time
	}
}

// drainCall is a confirmed call with media both ways.
type drainCall struct {
	id                 string
	caller, callee     *client.Client
	callerL, calleeL   *eventLog
	toCaller, toCallee *atomic.Int64 // packets received
}

// callWithMedia: caller calls callee, which accepts once ringing has been
// checked by ring (if set); both send Opus until the test ends.
func callWithMedia(t *testing.T, e *env, from, to string, ring func()) *drainCall {
	t.Helper()
	c := &drainCall{caller: e.phone(from), callee: e.phone(to)}
	c.callerL, c.calleeL = logEvents(t, c.caller), logEvents(t, c.callee)
	ctx := ctxT(t, time.Minute)
	go sendOpus(ctx, withMic(t, c.caller))
	go sendOpus(ctx, withMic(t, c.callee))
	id, err := c.caller.Call(ctxT(t, 5*time.Second), "client:"+to, protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	c.id = id
	c.calleeL.wait(t, "incoming", 1, isType(protocol.TypeIncoming))
	if ring != nil {
		ring()
	}
	if err := c.callee.Accept(id, protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	c.callerL.wait(t, "caller confirmed", 1, isState(protocol.StateConfirmed))
	c.calleeL.wait(t, "callee confirmed", 1, isState(protocol.StateConfirmed))
	c.toCaller, c.toCallee = packetCounter(anyTrack(t, c.caller)), packetCounter(anyTrack(t, c.callee))
	return c
}

// A call in progress keeps its media after Drain starts; when it ends both
// parties are sent on, and Drain returns once the last connection is gone.
func TestDrainKeepsCallUntilItEnds(t *testing.T) {
	a, b := drainPair(t)
	call := callWithMedia(t, a, "alice", "bob", nil)
	idle := a.phone("carol")
	idleL := logEvents(t, idle)

	done := startDrain(t, a, ctxT(t, 30*time.Second), calling.DrainOptions{ReconnectURL: b.wsURL})
	idleL.wait(t, "idle reconnect", 1, isReconnect(b.wsURL))
	loopTurn(t, call.caller, call.callerL, "kept-1")
	loopTurn(t, call.callee, call.calleeL, "kept-2")

	// join and call are refused (before any other check) while draining.
	if _, err := call.caller.Join(ctxT(t, 5*time.Second), client.JoinRequest{Room: "x"}); !isDraining(err) {
		t.Fatalf("join while draining: %v", err)
	}
	if _, err := call.callee.Call(ctxT(t, 5*time.Second), "client:carol", protocol.CallOptions{Audio: true}); !isDraining(err) {
		t.Fatalf("call while draining: %v", err)
	}

	// Media keeps flowing both ways (1 s of it), and nobody in the call is sent away.
	waitPackets(t, "to bob", call.toCallee, 50)
	waitPackets(t, "to alice", call.toCaller, 50)
	for _, l := range []*eventLog{call.callerL, call.calleeL} {
		if n := l.count(isType(protocol.TypeReconnect)); n != 0 {
			t.Fatalf("a party of the call was told to reconnect during its call")
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Drain returned %v while a call was live", err)
	default:
	}

	if err := call.callee.Hangup(call.id); err != nil {
		t.Fatal(err)
	}
	for _, l := range []*eventLog{call.callerL, call.calleeL} {
		l.wait(t, "ended", 1, isState(protocol.StateEnded))
		l.wait(t, "reconnect after the call", 1, isReconnect(b.wsURL))
		l.wait(t, "connected to b", 1, isType(protocol.TypeStatus))
	}
	if err := drainResult(t, done); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if got := b.srv.Usage(); got.Connections != 3 {
		t.Fatalf("server b has %d connections, want alice, bob and carol", got.Connections)
	}
}

// A connection ringing when Drain starts stays: it can answer, and the call
// has media until the drain's deadline, when it fails server_shutdown and
// both parties are sent on.
func TestDrainDeadlineEndsCalls(t *testing.T) {
	a, b := drainPair(t)
	ctx, deadline := context.WithCancel(context.Background())
	defer deadline()
	var done <-chan error
	call := callWithMedia(t, a, "carol", "dave", func() {
		done = startDrain(t, a, ctx, calling.DrainOptions{ReconnectURL: b.wsURL})
	})
	waitPackets(t, "to dave", call.toCallee, 25)
	waitPackets(t, "to carol", call.toCaller, 25)
	for _, l := range []*eventLog{call.callerL, call.calleeL} {
		if n := l.count(isType(protocol.TypeReconnect)); n != 0 {
			t.Fatalf("a party of the call was told to reconnect during its call")
		}
	}

	deadline() // the drain timeout
	if err := drainResult(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain at its deadline: %v", err)
	}
	for _, l := range []*eventLog{call.callerL, call.calleeL} {
		f := l.wait(t, "failed", 1, isState(protocol.StateFailed))
		if f.Cause != protocol.CauseServerShutdown {
			t.Fatalf("call failed %s, want server_shutdown", f.Cause)
		}
		l.wait(t, "reconnect at the deadline", 1, isReconnect(b.wsURL))
		l.wait(t, "connected to b", 1, isType(protocol.TypeStatus))
	}
	waitFor(t, func() bool { return a.srv.Usage().Connections == 0 && b.srv.Usage().Connections == 2 })
}

func isDraining(err error) bool {
	var pe *protocol.Error
	return errors.As(err, &pe) && pe.Code == 503 && pe.Reason == protocol.ReasonDraining
}

// A connection ringing when Drain starts stays while it rings; when another
// connection of the callee answers, it is sent on at once.
func TestDrainRingingConnectionGoesWhenAnsweredElsewhere(t *testing.T) {
	a, b := drainPair(t)
	alice, bob1, bob2 := a.phone("alice"), a.phone("bob"), a.phone("bob")
	aliceL, bob1L, bob2L := logEvents(t, alice), logEvents(t, bob1), logEvents(t, bob2)
	id, err := alice.Call(ctxT(t, 5*time.Second), "client:bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	bob1L.wait(t, "bob1 rings", 1, isType(protocol.TypeIncoming))
	bob2L.wait(t, "bob2 rings", 1, isType(protocol.TypeIncoming))

	done := startDrain(t, a, ctxT(t, 30*time.Second), calling.DrainOptions{ReconnectURL: b.wsURL})
	loopTurn(t, bob1, bob1L, "r-1")
	loopTurn(t, bob2, bob2L, "r-2")
	loopTurn(t, alice, aliceL, "r-3")
	if n := bob1L.count(isType(protocol.TypeReconnect)) + bob2L.count(isType(protocol.TypeReconnect)) + aliceL.count(isType(protocol.TypeReconnect)); n != 0 {
		t.Fatalf("%d ringing or calling connections were sent away", n)
	}

	if err := bob1.Accept(id, protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	e := bob2L.wait(t, "answered elsewhere", 1, isState(protocol.StateEnded))
	if e.Cause != protocol.CauseAnsweredElsewhere {
		t.Fatalf("bob2's call ended %s", e.Cause)
	}
	bob2L.wait(t, "bob2 reconnect", 1, isReconnect(b.wsURL))
	bob2L.wait(t, "bob2 on b", 1, isType(protocol.TypeStatus))
	if n := bob1L.count(isType(protocol.TypeReconnect)); n != 0 {
		t.Fatal("the connection that answered was sent away")
	}

	if err := alice.Hangup(id); err != nil {
		t.Fatal(err)
	}
	for _, l := range []*eventLog{aliceL, bob1L} {
		l.wait(t, "reconnect after the call", 1, isReconnect(b.wsURL))
	}
	if err := drainResult(t, done); err != nil {
		t.Fatalf("Drain: %v", err)
	}
}

// A room keeps its connections while the server drains; when its session
// ends they hear reconnect before the usual close 4410, and the client
// follows it.
func TestDrainKeepsRoomUntilItEnds(t *testing.T) {
	a, b := drainPair(t)
	alice := a.dial("alice")
	aliceL := logEvents(t, alice)
	raw := rawDialOK(t, a, a.token("bob", roomGrants))
	j, err := alice.Join(ctxT(t, 5*time.Second), client.JoinRequest{Room: "standup"})
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Write(ctxT(t, 5*time.Second), websocket.MessageText, []byte(`{"type":"join","id":"j","room":"standup"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := readMsg(t, raw)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == protocol.TypeJoined {
			break
		}
	}

	done := startDrain(t, a, ctxT(t, 30*time.Second), calling.DrainOptions{ReconnectURL: b.wsURL})
	loopTurn(t, alice, aliceL, "room-1")
	if n := aliceL.count(isType(protocol.TypeReconnect)); n != 0 {
		t.Fatal("a connection in a room was sent away")
	}

	if err := a.rooms.DeleteSession(ctxT(t, 5*time.Second), acct, j.SessionID); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		m, err := readMsg(t, raw)
		if err != nil {
			if websocket.CloseStatus(err) != protocol.CloseSessionEnded {
				t.Fatalf("close %v, want 4410", err)
			}
			break
		}
		got = append(got, m.Type)
		if m.Type == protocol.TypeReconnect && m.URL != b.wsURL {
			t.Fatalf("reconnect to %q", m.URL)
		}
	}
	if !slices.Contains(got, protocol.TypeReconnect) {
		t.Fatalf("messages before the close %v, want a reconnect", got)
	}
	aliceL.wait(t, "alice reconnect", 1, isReconnect(b.wsURL))
	aliceL.wait(t, "alice on b", 1, isType(protocol.TypeStatus))
	if err := drainResult(t, done); err != nil {
		t.Fatalf("Drain: %v", err)
	}
}
