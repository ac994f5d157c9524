package calling_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

func (e *env) mint(identity string, g auth.Grants, ttl time.Duration) (string, *auth.Claims) {
	e.t.Helper()
	tok, c, err := e.issuer.Mint(context.Background(), auth.TokenRequest{Identity: identity, Account: acct, Grants: g, TTL: ttl})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok, c
}

// waitClosed reads until the server closes the connection and returns the
// error message it sent last and the close code.
func waitClosed(t *testing.T, c *websocket.Conn) (*protocol.Error, websocket.StatusCode) {
	t.Helper()
	var last *protocol.Error
	for {
		m, err := readMsg(t, c)
		if err != nil {
			return last, websocket.CloseStatus(err)
		}
		if m.Type == protocol.TypeError {
			last = m.Error
		}
	}
}

// pingPong proves the connection is open and served.
func pingPong(t *testing.T, c *websocket.Conn, id string) {
	t.Helper()
	if err := c.Write(ctxT(t, 5*time.Second), websocket.MessageText, []byte(`{"type":"ping","id":"`+id+`"}`)); err != nil {
		t.Fatalf("ping: %v", err)
	}
	for {
		m, err := readMsg(t, c)
		if err != nil {
			t.Fatalf("connection closed before pong: %v", err)
		}
		if m.Type == protocol.TypePong && m.ID == id {
			return
		}
	}
}

// A connection lives exactly as long as its token: open at exp-1ms, closed
// with token_expired and 4401 at exp (the Server's clock).
func TestTokenExpiryClosesOpenConnection(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, func(c *calling.Config) { c.Clock = clk })
	tok, claims := e.mint("alice", roomGrants, time.Minute)
	c := rawDialOK(t, e, tok)
	clk.Advance(claims.Expiry.Sub(clk.Now()) - time.Millisecond)
	pingPong(t, c, "before")
	clk.Advance(time.Millisecond)
	pe, code := waitClosed(t, c)
	if code != protocol.CloseTokenExpired || pe == nil || pe.Reason != "token_expired" || pe.Code != 401 {
		t.Fatalf("close %d, last error %+v; want 4401 token_expired", code, pe)
	}
}

// DELETE /v1/tokens/{id} (a revoked jti) closes the open connection within
// the check interval, with token_revoked and 4401.
func TestTokenRevocationClosesOpenConnection(t *testing.T) {
	e := newEnv(t, func(c *calling.Config) { c.TokenCheckInterval = 100 * time.Millisecond })
	tok, claims := e.mint("alice", roomGrants, time.Minute)
	other := rawDialOK(t, e, e.token("bob", roomGrants))
	c := rawDialOK(t, e, tok)
	pingPong(t, c, "before")
	if err := e.replay.Revoke(context.Background(), auth.RevocationKey(claims.Account, claims.ID), claims.Expiry); err != nil {
		t.Fatal(err)
	}
	revokedAt := time.Now()
	pe, code := waitClosed(t, c)
	if code != protocol.CloseTokenExpired || pe == nil || pe.Reason != "token_revoked" {
		t.Fatalf("close %d, last error %+v; want 4401 token_revoked", code, pe)
	}
	if d := time.Since(revokedAt); d > time.Second {
		t.Fatalf("closed %v after revocation, want within 1 s", d)
	}
	pingPong(t, other, "unrelated") // another token's connection is untouched
}

// A refresh message extends the connection past the first token's expiry;
// a token of another identity, or a bad one, is refused and the connection kept.
func TestTokenRefresh(t *testing.T) {
	clk := newFakeClock()
	e := newEnv(t, func(c *calling.Config) { c.Clock = clk })
	tok1, c1 := e.mint("alice", roomGrants, time.Minute)
	alice := e.dialToken(tok1)
	ctx := ctxT(t, 10*time.Second)

	bobTok, _ := e.mint("bob", roomGrants, time.Hour)
	var pe *protocol.Error
	if _, err := alice.Refresh(ctx, bobTok); !errors.As(err, &pe) || pe.Reason != "identity_mismatch" {
		t.Fatalf("refresh with bob's token: %v", err)
	}
	if _, err := alice.Refresh(ctx, "not.a.token"); !errors.As(err, &pe) || pe.Reason != "token_invalid" {
		t.Fatalf("refresh with garbage: %v", err)
	}
	tok2, c2 := e.mint("alice", roomGrants, 2*time.Minute)
	exp, err := alice.Refresh(ctx, tok2)
	if err != nil || !exp.Equal(c2.Expiry) {
		t.Fatalf("refresh: %v %v, want expiry %v", exp, err, c2.Expiry)
	}
	clk.Advance(c1.Expiry.Sub(clk.Now()) + 10*time.Second) // past the first token
	if _, err := alice.Join(ctx, client.JoinRequest{Room: "hello"}); err != nil {
		t.Fatalf("join after the first token's expiry: %v", err)
	}
	clk.Advance(c2.Expiry.Sub(clk.Now()))
	select {
	case <-alice.Done():
	case <-ctx.Done():
		t.Fatal("connection outlived its refreshed token")
	}
	var ce websocket.CloseError
	if !errors.As(alice.Err(), &ce) || ce.Code != protocol.CloseTokenExpired {
		t.Fatalf("ended with %v, want close 4401", alice.Err())
	}
}

// Narrowed grants take effect at once: a stream whose kind is no longer
// granted stops, and a room no longer granted is left.
func TestTokenRefreshNarrowsGrants(t *testing.T) {
	e := newEnv(t, nil)
	g := auth.Grants{Rooms: []string{"hello"}, Publish: []auth.Media{auth.MediaAudio, auth.MediaVideo}}
	tok, _ := e.mint("alice", g, time.Hour)
	alice := e.dialToken(tok)
	mic := withMic(t, alice)
	cam, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "cam", "x")
	if err := alice.Publish(rooms.AliasCamera, cam); err != nil {
		t.Fatal(err)
	}
	_ = mic
	ctx := ctxT(t, 10*time.Second)
	if _, err := alice.Join(ctx, client.JoinRequest{Room: "hello"}); err != nil {
		t.Fatal(err)
	}
	audioOnly := auth.Grants{Rooms: []string{"hello"}, Publish: []auth.Media{auth.MediaAudio}}
	tok2, _ := e.mint("alice", audioOnly, time.Hour)
	if _, err := alice.Refresh(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	if m := waitEvent(t, alice, protocol.TypeUnpublished, ""); m.StreamAlias != rooms.AliasCamera || m.Reason != "publish_not_permitted" {
		t.Fatalf("unpublished %+v", m)
	}
	otherRoom := auth.Grants{Rooms: []string{"elsewhere"}, Publish: []auth.Media{auth.MediaAudio}}
	tok3, _ := e.mint("alice", otherRoom, time.Hour)
	if _, err := alice.Refresh(ctx, tok3); err != nil {
		t.Fatal(err)
	}
	if m := waitEvent(t, alice, protocol.TypeLeft, ""); m.Reason != "room_not_granted" || m.SessionID == "" {
		t.Fatalf("left %+v", m)
	}
	waitFor(t, func() bool {
		s, err := e.rooms.Session(ctx, acct, rooms.RoomSessionID("hello"))
		return err != nil || len(s.Members) == 0
	})
}

// calling/client refreshes by itself from a token source: with 2-second
// tokens the connection outlives several of them, and stays usable.
func TestClientRefreshesFromTokenSource(t *testing.T) {
	e := newEnv(t, nil)
	minted := make(chan time.Time, 16)
	source := func(context.Context) (string, error) {
		tok, c := e.mint("alice", roomGrants, 2*time.Second)
		minted <- c.Expiry
		return tok, nil
	}
	ctx := ctxT(t, 15*time.Second)
	c, err := client.Dial(ctx, client.Config{URL: e.wsURL, TokenSource: source, API: e.api})
	if err != nil {
		t.Fatal(err)
	}
	e.clients = append(e.clients, c)
	first := <-minted
	// Refreshes go on until the connection has outlived the first token.
	for n := 0; n < 2 || time.Now().Before(first.Add(200*time.Millisecond)); n++ {
		select {
		case <-minted:
		case <-c.Done():
			t.Fatalf("connection ended: %v", c.Err())
		case <-ctx.Done():
			t.Fatal("the client did not refresh")
		}
	}
	if _, err := c.Join(ctx, client.JoinRequest{Room: "long"}); err != nil || c.Status() != client.StatusConnected {
		t.Fatalf("after outliving the first token: join %v, status %s", err, c.Status())
	}
}

// A token source that hands back the same cached token does not make the
// client refresh in a loop: it asks again about once a second, and the
// server ends the connection at the token's expiry.
func TestClientDoesNotLoopOnACachedToken(t *testing.T) {
	e := newEnv(t, nil)
	tok, _ := e.mint("alice", roomGrants, 2*time.Second)
	var calls atomic.Int32
	source := func(context.Context) (string, error) { calls.Add(1); return tok, nil }
	ctx := ctxT(t, 10*time.Second)
	c, err := client.Dial(ctx, client.Config{URL: e.wsURL, TokenSource: source, API: e.api})
	if err != nil {
		t.Fatal(err)
	}
	e.clients = append(e.clients, c)
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the connection outlived its only token")
	}
	if n := calls.Load(); n > 5 {
		t.Fatalf("token source called %d times for one 2-second token", n)
	}
}
