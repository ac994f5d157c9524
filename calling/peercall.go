package calling

import (
	"context"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// handleCall runs the call messages on the peer's loop.
func (p *peer) handleCall(m *protocol.Message) error {
	if m.Type == protocol.TypeCall {
		if err := p.mayCall(); err != nil {
			return err
		}
		if err := p.admitCall(); err != nil {
			return err
		}
		if err := p.checkCallable(m); err != nil {
			return err
		}
		opts := protocol.CallOptions{Audio: true}
		if m.Options != nil {
			opts = *m.Options
		}
		name := p.claims.DisplayName
		if name == "" {
			name = p.claims.Subject
		}
		release := func() {}
		if to := normalizeCallee(m.To); p.srv.cfg.Cluster != nil && auth.ValidIdentity(to) && to != p.claims.Subject {
			addr, rel, err := p.srv.holdHome(p.ctx, identKey{p.claims.Account, to})
			if err != nil {
				return err
			}
			if addr != "" { // the callee's home is another node: the call lives there
				if p.relayIn == relayRoom || p.relayIn == relayCall {
					return errMoved
				}
				return p.startRelay(relayCall, addr, m)
			}
			release = rel
		}
		c, err := p.srv.placeCall(p.ctx, p.claims.Account, p.claims.Subject, name, m.To, opts, p, m.Publish, m.ID)
		if err != nil {
			release()
			return err
		}
		c.holdHome(release)
		p.call = c
		return nil
	}
	c, ok := p.srv.Call(p.claims.Account, m.CallID)
	if !ok {
		return &protocol.Error{Code: 404, Reason: protocol.ReasonNoSuchCall, Message: "no such call"}
	}
	switch m.Type {
	case protocol.TypeAccept:
		if err := p.checkCallable(m); err != nil {
			return err
		}
		if err := c.accept(p, m.Publish, m.Options); err != nil {
			return err
		}
		p.call = c
		return nil
	case protocol.TypeReject:
		return c.reject(p)
	case protocol.TypeHangup:
		return c.hangup(p)
	case protocol.TypeHold:
		if m.Hold == nil {
			return badMessage("hold needs hold: true or false")
		}
		return c.hold(p, *m.Hold)
	case protocol.TypeDTMF:
		return c.dtmf(p, m.Digits)
	}
	return badMessage("unknown call message")
}

// checkCallable checks that a call or accept can start from this connection.
func (p *peer) checkCallable(m *protocol.Message) error {
	if p.room != nil || p.call != nil {
		return &protocol.Error{Code: 409, Reason: protocol.ReasonBusy, Message: "already in a call or a room"}
	}
	if err := m.Options.Validate(); err != nil {
		return err
	}
	if err := checkPublications(m.Publish); err != nil {
		return err
	}
	if err := p.mayPublish(m.Publish, nil); err != nil {
		return err
	}
	p.noData = m.DataChannel != nil && !*m.DataChannel
	return nil
}

// enterCall joins the call's session (on the loop, after accept).
func (p *peer) enterCall(c *Call, sid string, pubs []protocol.Publication) {
	if p.call != c && c.caller != p {
		return
	}
	p.call = c
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	mgr, acct := p.srv.cfg.Rooms, p.claims.Account
	part, err := p.createEphemeral(ctx)
	if err == nil {
		err = mgr.AddParticipant(ctx, acct, sid, part.ID, rooms.Everyone(sid))
		if err != nil { // it may have joined (an answer lost): deleting it leaves too
			p.srv.writeStore(acct, part.ID, deleteParticipant(mgr, acct, part.ID))
		} else {
			p.st.ephemeral = true
		}
	}
	if err == nil {
		err = p.enterSession(part, sid, pubs, "", "")
	}
	if err != nil {
		p.log.Warn("enter call", "call", c.ID, "err", err)
		c.mu.Lock()
		if c.state == protocol.StateAccepted || c.state == protocol.StateConfirmed {
			_ = c.setState(protocol.StateFailed, protocol.CauseMediaFailed)
		}
		c.mu.Unlock()
		return
	}
	c.joined(p, part.ID)
}

// leaveCall leaves the call's session when the call has ended.
func (p *peer) leaveCall(c *Call) {
	if p.call != c {
		return
	}
	p.call = nil
	if p.room == nil || !p.room.isCall() {
		return
	}
	p.exitSession() // the last party out deletes the call's session
}

// checkMediaReady tells the call when this party's media transport is up:
// the PeerConnection is connected (ICE and DTLS). No packet is required, so
// a party that answers muted, or waits for confirmed before it sends, is
// confirmed all the same.
func (p *peer) checkMediaReady() {
	if p.call == nil || p.st.pc == nil || !p.st.connected {
		return
	}
	p.call.mediaReady(p)
}
