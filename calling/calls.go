package calling

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// Call is one 1:1 call between identities: a caller (a connection, or the
// server for calls placed through the REST API) and a callee, whose every
// connection with the incoming grant rings until one answers. Its media goes
// through the SFU like a room's: a two-party session whose subscriptions
// calling sets. A Call is safe for concurrent use.
type Call struct {
	srv *Server

	ID          string
	Account     string
	From        string // caller identity
	DisplayName string
	To          string // callee identity
	Options     protocol.CallOptions

	mu        sync.Mutex
	state     protocol.CallState
	cause     protocol.Cause
	history   []StateChange
	caller    *peer   // nil when the server placed the call
	rung      []*peer // callee connections ringing
	callee    *peer   // the connection that answered
	callerPub []protocol.Publication
	sessionID string
	// calleeRecording is the recording option the callee answered with.
	calleeRecording string
	held            map[*peer]bool
	ready           map[*peer]bool   // media connected and publishing
	pids            map[*peer]string // each party's participant in the call's session
	stopTimer       func() bool
	woken           bool               // the Waker was asked: a lost callee connection leaves the call ringing
	waking          bool               // Wake is running: a callee connection that arrives rings at once
	stopWake        context.CancelFunc // ends Wake's ctx; nil when nobody was woken
	releaseHome     func()             // gives back this node's hold on the callee's home (Config.Cluster)
	remote          *CallInfo          // a call placed on another node: its snapshot
}

type identKey struct{ account, identity string }

// CallInfo is the public view of a call (GET /v1/calls/{id}).
type CallInfo struct {
	ID        string               `json:"id"`
	From      string               `json:"from"`
	To        string               `json:"to"`
	State     protocol.CallState   `json:"state"`
	Cause     protocol.Cause       `json:"cause,omitempty"`
	SessionID string               `json:"sessionId,omitempty"`
	Options   protocol.CallOptions `json:"options"`
	History   []StateChange        `json:"history"`
}

// Info returns a snapshot of the call.
func (c *Call) Info() CallInfo {
	if c.remote != nil {
		return *c.remote
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return CallInfo{ID: c.ID, From: c.From, To: c.To, State: c.state, Cause: c.cause, SessionID: c.sessionID,
		Options: c.Options, History: slices.Clone(c.history)}
}

// State returns the current state and cause.
func (c *Call) State() (protocol.CallState, protocol.Cause) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.cause
}

// parties returns every connection the call talks to; c.mu held.
func (c *Call) parties() []*peer {
	var out []*peer
	if c.caller != nil {
		out = append(out, c.caller)
	}
	if c.callee != nil {
		return append(out, c.callee)
	}
	return append(out, c.rung...)
}

// setState applies a legal transition, tells every party and the hooks; c.mu held.
func (c *Call) setState(to protocol.CallState, cause protocol.Cause) error {
	if err := nextState(c.state, to, cause); err != nil {
		return err
	}
	now := c.srv.clock.Now()
	c.state, c.cause = to, cause
	c.srv.stats.callChanged(to, cause)
	c.history = append(c.history, StateChange{State: to, Cause: cause, At: now})
	if to == protocol.StateEnded || to == protocol.StateFailed {
		c.finish() // before anyone is told, so timers and marks are settled when they hear it
	}
	for _, p := range c.parties() {
		p.send(&protocol.Message{Type: protocol.TypeCallState, CallID: c.ID, State: to, Cause: cause})
	}
	ev := CallEvent{CallID: c.ID, Account: c.Account, From: c.From, To: c.To, State: to, Cause: cause, SessionID: c.sessionID, Options: c.Options, At: now}
	c.srv.hook(func(ctx context.Context, h Hooks) { h.CallStateChanged(ctx, ev) })
	if (to == protocol.StateEnded || to == protocol.StateFailed) && c.sessionID != "" {
		_ = c.srv.stopRecording(roomKey{c.Account, c.sessionID}, false) // after the parties heard the end
	}
	return nil
}

// finish releases everything the call holds; c.mu held.
func (c *Call) finish() {
	if c.stopTimer != nil {
		c.stopTimer()
	}
	if c.stopWake != nil {
		c.stopWake()
	}
	if c.releaseHome != nil {
		c.releaseHome()
	}
	s := c.srv
	s.callsMu.Lock()
	for _, who := range []string{c.From, c.To} {
		if err := s.cfg.Presence.Release(s.ctx, c.Account, who, c.ID); err != nil {
			s.log.Warn("releasing a busy mark", "call", c.ID, "err", err)
		}
	}
	s.ended = append(s.ended, c)
	s.callsMu.Unlock()
	s.clock.AfterFunc(s.cfg.CallRetention, func() {
		s.callsMu.Lock()
		s.forgetCall(c)
		if len(s.ended) > 0 && s.ended[0] == c { // retention ends calls in the order they ended
			s.ended[0] = nil
			s.ended = s.ended[1:]
		}
		s.callsMu.Unlock()
	})
	// Each party leaves the call's session on its own loop; the last one out
	// deletes the session.
	for _, p := range c.parties() {
		p.post(func() { p.leaveCall(c) })
	}
}

// normalizeCallee accepts "client:alice" and "alice".
func normalizeCallee(to string) string { return strings.TrimPrefix(to, "client:") }

// placeCall starts a call from caller (nil: the server) to identity to.
func (s *Server) placeCall(ctx context.Context, account, from, displayName, to string, opts protocol.CallOptions, caller *peer, pubs []protocol.Publication, reqID string) (_ *Call, err error) {
	to = normalizeCallee(to)
	if !auth.ValidIdentity(to) {
		return nil, &protocol.Error{Code: 406, Reason: protocol.ReasonIdentityNotAcceptable, Message: "callee identity must be 3-64 letters, digits or - _ + = / ."}
	}
	if to == from {
		return nil, badMessage("cannot call yourself")
	}
	c := &Call{srv: s, ID: newCallID(), Account: account, From: from, DisplayName: displayName, To: to, Options: opts,
		caller: caller, callerPub: pubs, held: map[*peer]bool{}, ready: map[*peer]bool{}, pids: map[*peer]string{}, state: protocol.StateConnecting}
	c.history = []StateChange{{State: protocol.StateConnecting, At: s.clock.Now()}}
	if err := s.claimCall(ctx, account, c.ID); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil { // refused: no call to find
			s.releaseLease(account, callLease+c.ID, func() bool { return true })
		}
	}()

	s.callsMu.Lock()
	if over(len(s.calls), s.lim.cfg.Calls) && !s.evictEndedCall() {
		s.callsMu.Unlock()
		return nil, &protocol.Error{Code: 503, Reason: protocol.ReasonServerFull, Message: "the server holds too many calls; retry later"}
	}
	if caller != nil {
		ok, err := s.cfg.Presence.Claim(ctx, account, from, c.ID)
		if err != nil {
			s.callsMu.Unlock()
			return nil, err
		}
		if !ok {
			s.callsMu.Unlock()
			return nil, &protocol.Error{Code: 409, Reason: protocol.ReasonAlreadyInCall, Message: "you are already in a call"}
		}
	}
	calleeConnected := s.connected[identKey{account, to}] > 0
	var ring []*peer
	occupied := 0 // connections that could ring but are in a room: they cannot accept
	for p := range s.online[identKey{account, to}] {
		if p.inRoom.Load() {
			occupied++
			continue
		}
		ring = append(ring, p)
	}
	calleeBusy := len(ring) == 0 && occupied > 0
	if !calleeBusy {
		claimed, err := s.cfg.Presence.Claim(ctx, account, to, c.ID)
		if httpx.Unavailable(err) { // no call: 503, and the caller's mark goes back
			if caller != nil {
				if rerr := s.cfg.Presence.Release(ctx, account, from, c.ID); rerr != nil {
					s.log.Warn("releasing a busy mark", "call", c.ID, "err", rerr)
				}
			}
			s.callsMu.Unlock()
			return nil, err
		}
		calleeBusy = err != nil || !claimed
		if err != nil {
			s.log.Warn("claiming the callee's busy mark", "call", c.ID, "err", err)
		}
	}
	s.calls[c.ID] = c
	s.indexCall(c)
	s.callsMu.Unlock()

	c.mu.Lock()
	defer c.mu.Unlock()
	if caller != nil {
		caller.send(&protocol.Message{Type: protocol.TypeCallState, ID: reqID, CallID: c.ID, State: protocol.StateConnecting, To: to})
	}
	ev := CallEvent{CallID: c.ID, Account: account, From: from, To: to, State: protocol.StateConnecting, Options: opts, At: s.clock.Now()}
	s.hook(func(ctx context.Context, h Hooks) { h.CallStateChanged(ctx, ev) })
	switch {
	case calleeBusy:
		_ = c.setState(protocol.StateEnded, protocol.CauseBusy)
		return c, nil
	case len(ring) == 0 && calleeConnected:
		// Connected, but no connection may receive calls (no incoming grant).
		_ = c.setState(protocol.StateFailed, protocol.CauseForbidden)
		return c, nil
	case len(ring) == 0 && s.cfg.Waker == nil:
		_ = c.setState(protocol.StateFailed, protocol.CauseCalleeOffline)
		return c, nil
	case len(ring) == 0:
		c.wake(Wakeup{Account: account, Identity: to, CallID: c.ID, From: from, DisplayName: displayName,
			HasVideo: opts.Video, ExpiresAt: s.clock.Now().Add(s.cfg.RingTimeout)})
		return c, nil
	}
	for _, p := range ring {
		c.ring(p)
	}
	c.startRinging()
	return c, nil
}

// startRinging starts the ring timeout and makes the call ringing; c.mu
// held. The timer starts before anyone hears "ringing" (c.mu is held, so
// it cannot fire first). A woken call keeps the timer wake started: it
// rings until the wake-up's expiry, not a whole ring timeout more.
func (c *Call) startRinging() {
	if !c.woken {
		c.stopTimer = c.srv.clock.AfterFunc(c.srv.cfg.RingTimeout, c.ringTimedOut)
	}
	_ = c.setState(protocol.StateRinging, "")
}

// ringTimedOut ends a call still ringing with no_answer, and fails one
// still waking its callee (Wake has not returned) unreachable.
func (c *Call) ringTimedOut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case protocol.StateRinging:
		_ = c.setState(protocol.StateEnded, protocol.CauseNoAnswer)
	case protocol.StateConnecting:
		_ = c.setState(protocol.StateFailed, protocol.CauseUnreachable)
	}
}

// wake asks the Waker to wake the callee on a goroutine of its own, so
// that the call's lock is free while a provider is slow: the call stays
// connecting, the caller can hang up (finish ends Wake's ctx), and a
// connection the callee opens meanwhile rings (calleeConnected). When Wake
// returns on a call still connecting, the call rings, or fails unreachable
// if Wake failed. At w.ExpiresAt a call still connecting fails
// unreachable (ending Wake's ctx) and a ringing one ends no_answer. c.mu
// held.
func (c *Call) wake(w Wakeup) {
	s := c.srv
	if s.ctx.Err() != nil {
		_ = c.setState(protocol.StateFailed, protocol.CauseServerShutdown)
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	c.woken, c.waking, c.stopWake = true, true, cancel
	// The ring timeout counts from now, the wake-up's ExpiresAt: a Wake that
	// never returns cannot keep the call (and the callee's busy mark).
	c.stopTimer = s.clock.AfterFunc(w.ExpiresAt.Sub(s.clock.Now()), c.ringTimedOut)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		err := s.cfg.Waker.Wake(ctx, w)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.waking = false
		if c.state != protocol.StateConnecting {
			return // ended meanwhile, or already ringing on a connection the callee opened
		}
		if err != nil {
			s.log.Warn("wake callee", "call", c.ID, "err", err)
			_ = c.setState(protocol.StateFailed, protocol.CauseUnreachable)
			return
		}
		c.startRinging()
	}()
}

// ring sends incoming to a callee connection; c.mu held.
func (c *Call) ring(p *peer) {
	c.rung = append(c.rung, p)
	opts := c.Options
	p.send(&protocol.Message{Type: protocol.TypeIncoming, CallID: c.ID, From: c.From, DisplayName: c.DisplayName, Options: &opts})
}

// calleeConnected rings a connection the callee opened while the call rings
// (a woken phone, or a second device).
func (c *Call) calleeConnected(p *peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.state == protocol.StateRinging && !slices.Contains(c.rung, p):
		c.ring(p)
		p.send(&protocol.Message{Type: protocol.TypeCallState, CallID: c.ID, State: protocol.StateRinging})
	case c.state == protocol.StateConnecting && c.waking:
		// Woken before the provider's answer reached Wake: ring now (every
		// party, p included, hears "ringing").
		c.ring(p)
		c.startRinging()
	}
}

// accept answers the call from callee connection p.
func (c *Call) accept(p *peer, pubs []protocol.Publication, opts *protocol.CallOptions) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.rung, p) {
		return &protocol.Error{Code: 404, Reason: protocol.ReasonNoSuchCall, Message: "this connection is not ringing for that call"}
	}
	if c.state != protocol.StateRinging {
		return &IllegalTransitionError{From: c.state, To: protocol.StateAccepted}
	}
	ctx := context.Background()
	s, err := c.srv.cfg.Rooms.CreateSession(ctx, c.Account, "call")
	if err != nil {
		return err
	}
	c.sessionID = s.ID
	if c.stopTimer != nil {
		c.stopTimer()
	}
	c.callee = p
	if opts != nil {
		c.calleeRecording = opts.Recording
	}
	for _, other := range c.rung {
		if other != p {
			other.send(&protocol.Message{Type: protocol.TypeCallState, CallID: c.ID, State: protocol.StateEnded, Cause: protocol.CauseAnsweredElsewhere})
			other.drainNudge() // it rings no more
		}
	}
	c.rung = []*peer{p}
	// The media timeout starts before anyone hears "accepted".
	c.stopTimer = c.srv.clock.AfterFunc(c.srv.cfg.MediaTimeout, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.state == protocol.StateAccepted {
			_ = c.setState(protocol.StateFailed, protocol.CauseTimeout)
		}
	})
	if err := c.setState(protocol.StateAccepted, ""); err != nil {
		return err
	}
	// The parties' media is set up once the recording is decided on.
	caller, callerPubs := c.caller, c.callerPubs()
	c.srv.recordCall(c, func() {
		if caller != nil {
			caller.post(func() { caller.enterCall(c, s.ID, callerPubs) })
		}
		p.post(func() { p.enterCall(c, s.ID, pubs) })
	})
	return nil
}

// callerPubs are the publications the caller announced with its call message.
func (c *Call) callerPubs() []protocol.Publication { return c.callerPub }

// reject declines the call from callee connection p.
func (c *Call) reject(p *peer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.rung, p) {
		return &protocol.Error{Code: 404, Reason: protocol.ReasonNoSuchCall, Message: "this connection is not ringing for that call"}
	}
	return c.setState(protocol.StateEnded, protocol.CauseRejected)
}

// hangup ends the call from p (nil: the server / REST API).
func (c *Call) hangup(p *peer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p != nil && !slices.Contains(c.parties(), p) {
		return &protocol.Error{Code: 404, Reason: protocol.ReasonNoSuchCall, Message: "not a party of that call"}
	}
	switch c.state {
	case protocol.StateConnecting, protocol.StateRinging:
		if p != nil && p != c.caller {
			return c.setState(protocol.StateEnded, protocol.CauseRejected)
		}
		return c.setState(protocol.StateEnded, protocol.CauseCanceled)
	default:
		return c.setState(protocol.StateEnded, protocol.CauseNormal)
	}
}

// lost ends the call because p's connection went away.
func (c *Call) lost(p *peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == protocol.StateEnded || c.state == protocol.StateFailed {
		return
	}
	if c.callee == nil && p != c.caller {
		c.rung = slices.DeleteFunc(c.rung, func(q *peer) bool { return q == p })
		if len(c.rung) > 0 || c.woken {
			return // other devices still ring
		}
		_ = c.setState(protocol.StateFailed, protocol.CauseUnreachable)
		return
	}
	_ = c.setState(protocol.StateFailed, protocol.CauseUnreachable)
}

// mediaFailed fails an answered call whose media connection broke.
func (c *Call) mediaFailed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == protocol.StateAccepted || c.state == protocol.StateConfirmed {
		_ = c.setState(protocol.StateFailed, protocol.CauseMediaFailed)
	}
}

// mediaReady records that p's media is up; both up makes the call confirmed.
func (c *Call) mediaReady(p *peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ready[p] = true
	if c.state != protocol.StateAccepted {
		return
	}
	for _, q := range c.parties() {
		if !c.ready[q] {
			return
		}
	}
	_ = c.setState(protocol.StateConfirmed, "")
}

// hold puts the call on hold from p (or takes it off); while either side
// holds, nothing is forwarded either way.
func (c *Call) hold(p *peer, on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != protocol.StateAccepted && c.state != protocol.StateConfirmed || !slices.Contains(c.parties(), p) {
		return &protocol.Error{Code: 409, Reason: protocol.ReasonNotEstablished, Message: "hold needs an established call"}
	}
	c.held[p] = on
	anyHeld := false
	for _, h := range c.held {
		anyHeld = anyHeld || h
	}
	for _, q := range c.parties() {
		q.send(&protocol.Message{Type: protocol.TypeHoldChanged, CallID: c.ID, IsHold: &on, IsRemote: q != p})
	}
	return c.applyHold(anyHeld)
}

// applyHold sets both parties' subscriptions; c.mu held.
func (c *Call) applyHold(held bool) error {
	ctx := context.Background()
	subs := rooms.Everyone(c.sessionID)
	if held {
		subs = &rooms.Subscriptions{}
	}
	for _, q := range c.parties() {
		pid := c.pids[q]
		if pid == "" {
			continue
		}
		if err := c.srv.cfg.Rooms.SetSubscriptions(ctx, c.Account, c.sessionID, pid, subs); err != nil && !errors.Is(err, rooms.ErrNotMember) {
			return err
		}
	}
	return nil
}

// dtmf relays digits from p to the other party and the hooks.
func (c *Call) dtmf(p *peer, digits string) error {
	if !protocol.ValidDTMF(digits) {
		return badMessage("DTMF digits are 1-32 of 0-9 * # A-D")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != protocol.StateAccepted && c.state != protocol.StateConfirmed || !slices.Contains(c.parties(), p) {
		return &protocol.Error{Code: 409, Reason: protocol.ReasonNotEstablished, Message: "DTMF needs an established call"}
	}
	for _, q := range c.parties() {
		if q != p {
			q.send(&protocol.Message{Type: protocol.TypeDTMF, CallID: c.ID, From: p.claims.Subject, Digits: digits})
		}
	}
	ev := DTMFEvent{CallID: c.ID, Account: c.Account, From: p.claims.Subject, Digits: digits, At: c.srv.clock.Now()}
	c.srv.hook(func(ctx context.Context, h Hooks) { h.DTMFReceived(ctx, ev) })
	return nil
}

// Hangup ends a call from the server side.
func (c *Call) Hangup() error {
	if c.remote != nil {
		return c.srv.hangupRemote(context.Background(), c.Account, c.ID)
	}
	return c.hangup(nil)
}

// joined records p's participant in the call's session, and applies a hold
// that started before p's media was set up.
func (c *Call) joined(p *peer, pid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pids[p] = pid
	for _, h := range c.held {
		if h {
			_ = c.applyHold(true)
			return
		}
	}
}

// holdHome keeps this node's hold on the callee's home until the call ends.
func (c *Call) holdHome(release func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == protocol.StateEnded || c.state == protocol.StateFailed {
		release()
		return
	}
	c.releaseHome = release
}
