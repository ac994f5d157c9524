package calling

import (
	"context"
	"time"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// DefaultTokenCheckInterval is how often open connections look up whether
// their token was revoked (Config.TokenCheckInterval).
const DefaultTokenCheckInterval = time.Second

// A connection lives on its token: when the token expires (by the Server's
// Clock) or is revoked, the connection is told (an error with reason
// token_expired or token_revoked) and closed with protocol.CloseTokenExpired, unless
// the client sent a fresh token in a refresh message first. All of this runs
// on the peer's loop.

// armExpiry (re)starts the timer that ends the connection at the token's expiry.
func (p *peer) armExpiry() {
	if p.expStop != nil {
		p.expStop()
	}
	c := p.claims
	d := c.Expiry.Sub(p.srv.clock.Now())
	p.expStop = p.srv.clock.AfterFunc(d, func() { p.post(p.checkToken) })
}

// checkToken ends the connection if its token has expired (on the loop,
// from the expiry timer).
func (p *peer) checkToken() {
	if !p.srv.clock.Now().Before(p.claims.Expiry) {
		p.endOnToken(protocol.ReasonTokenExpired, "the token expired; connect again with a fresh one, or refresh before expiry")
	}
}

func (p *peer) endOnToken(reason, msg string) {
	p.send(&protocol.Message{Type: protocol.TypeError, Error: &protocol.Error{Code: 401, Reason: reason, Message: msg}})
	p.fail(protocol.CloseTokenExpired, reason)
}

// refresh replaces the connection's token with m.Token: same identity,
// account and participant, any grants. Narrowed grants take effect at
// once. A refused token leaves the connection as it was, and so does a
// token the replay cache could not check (error 503 store_unavailable).
func (p *peer) refresh(m *protocol.Message) error {
	if err := p.refreshHere(m); err != nil {
		return err
	}
	exp := p.claims.Expiry.UTC()
	p.send(&protocol.Message{Type: protocol.TypeRefreshed, ID: m.ID, ExpiresAt: &exp})
	p.applyGrants()
	return nil
}

// refreshHere replaces the connection's token, without a reply: a relayed
// connection's node replies (refresh sends it otherwise).
func (p *peer) refreshHere(m *protocol.Message) error {
	if m.Token == "" {
		return badMessage("refresh needs token")
	}
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	verify := p.srv.cfg.Verifier.Verify
	if p.relayIn != "" { // the relaying node verified it (and used a single-use token up)
		verify = p.srv.cfg.Verifier.VerifyPresented
	}
	c, err := verify(ctx, m.Token)
	if httpx.Unavailable(err) { // the replay cache is away: 503, the client may retry
		return err
	}
	if err != nil {
		return &protocol.Error{Code: 403, Reason: protocol.ReasonTokenInvalid, Message: "the new token is expired or invalid; the connection keeps its current token"}
	}
	old := p.claims
	if c.Subject != old.Subject || c.Account != old.Account || c.ParticipantID != old.ParticipantID {
		return &protocol.Error{Code: 403, Reason: protocol.ReasonIdentityMismatch, Message: "the new token is for another identity, account or participant"}
	}
	p.claims, p.tok = c, m.Token
	p.token.Store(c)
	p.armExpiry()
	if c.Grants.Incoming != old.Grants.Incoming {
		p.srv.setIncoming(p, p.mayRing())
	}
	return nil
}

// applyGrants takes narrowed grants into effect: a room the token no longer
// grants is left, and a stream of a kind it no longer allows is stopped
// (in a call too; a call is not left: hanging up ends it). Participants the
// REST API created (a participant token) keep what the API decided.
func (p *peer) applyGrants() {
	if p.room == nil || p.claims.ParticipantID != "" {
		return
	}
	if p.call == nil && p.st.roomName != "" && p.mayJoinRoom(p.st.roomName) != nil {
		sid := p.room.key.session
		p.exitSession()
		p.send(&protocol.Message{Type: protocol.TypeLeft, SessionID: sid, Reason: protocol.ReasonRoomNotGranted})
		return
	}
	for r, pub := range p.st.recv {
		if p.canPublish(pubMedia(pub.Kind), nil) {
			continue
		}
		delete(p.st.recv, r)
		if _, ok := p.st.published[pub.Alias]; ok {
			_ = p.unpublish(pub.Alias)
		}
		p.send(&protocol.Message{Type: protocol.TypeUnpublished, StreamAlias: pub.Alias, Reason: protocol.ReasonPublishNotPermitted})
	}
}

// watchTokens looks up, every interval until the server closes, whether
// the token of an open connection was revoked, and ends those connections.
// The lookups run here, never on a connection's loop, so a slow revocation
// store delays only this sweep; a store that fails keeps the connections
// (they are looked at again next time).
func (s *Server) watchTokens() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.TokenCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.callsMu.Lock()
			peers := make([]*peer, 0, len(s.peers))
			for p := range s.peers {
				peers = append(peers, p)
			}
			s.callsMu.Unlock()
			var failed int
			var lastErr error
			for _, p := range peers {
				c := p.token.Load()
				ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
				revoked, err := s.cfg.Verifier.Revoked(ctx, c)
				cancel()
				if err != nil {
					failed, lastErr = failed+1, err
					continue
				}
				if revoked {
					p.post(func() {
						if p.claims == c { // not refreshed meanwhile
							p.endOnToken(protocol.ReasonTokenRevoked, "the token was revoked")
						}
					})
				}
			}
			if failed > 0 {
				s.log.Warn("token revocation check failed", "connections", failed, "err", lastErr)
			}
		}
	}
}

// DefaultSessionTouchInterval is Config.SessionTouchInterval's default.
const DefaultSessionTouchInterval = time.Minute

// scheduleTouch marks every session with a connection on this server as
// active now and again every SessionTouchInterval (on the Clock), so rooms
// never ends a session in use as idle. It stops when the server closes.
func (s *Server) scheduleTouch() {
	s.touchMu.Lock()
	defer s.touchMu.Unlock()
	if s.ctx.Err() != nil {
		return
	}
	s.touchStop = s.clock.AfterFunc(s.cfg.SessionTouchInterval, func() {
		if s.ctx.Err() != nil {
			return
		}
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		for _, r := range s.liveRooms() {
			if r.isEmpty() {
				continue
			}
			if err := s.cfg.Rooms.Touch(ctx, r.key.account, r.key.session); err != nil {
				s.log.Debug("touch session", "session", r.key.session, "err", err)
			}
		}
		cancel()
		s.scheduleTouch()
	})
}
