package calling

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/switchboard-rtc/switchboard/auth"
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
	Options     CallOptions

	mu        sync.Mutex
	state     CallState
	cause     Cause
	history   []StateChange
	caller    *peer   // nil when the server placed the call
	rung      []*peer // callee connections ringing
	callee    *peer   // the connection that answered
	callerPub []Publication
	sessionID string
	held      map[*peer]bool
	ready     map[*peer]bool   // media connected and publishing
	pids      map[*peer]string // each party's participant in the call's session
	stopTimer func() bool
	woken     bool
}

type identKey struct{ account, identity string }

var dtmfRule = regexp.MustCompile(`^[0-9*#A-D]{1,32}$`)

// CallInfo is the public view of a call (GET /v1/calls/{id}).
type CallInfo struct {
	ID        string        `json:"id"`
	From      string        `json:"from"`
	To        string        `json:"to"`
	State     CallState     `json:"state"`
	Cause     Cause         `json:"cause,omitempty"`
	SessionID string        `json:"sessionId,omitempty"`
	Options   CallOptions   `json:"options"`
	History   []StateChange `json:"history"`
}

// Info returns a snapshot of the call.
func (c *Call) Info() CallInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CallInfo{ID: c.ID, From: c.From, To: c.To, State: c.state, Cause: c.cause, SessionID: c.sessionID,
		Options: c.Options, History: slices.Clone(c.history)}
}

// State returns the current state and cause.
func (c *Call) State() (CallState, Cause) {
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
func (c *Call) setState(to CallState, cause Cause) error {
	if err := nextState(c.state, to, cause); err != nil {
		return err
	}
	now := c.srv.clock.Now()
	c.state, c.cause = to, cause
	c.history = append(c.history, StateChange{State: to, Cause: cause, At: now})
	if to == StateEnded || to == StateFailed {
		c.finish() // before anyone is told, so timers and marks are settled when they hear it
	}
	for _, p := range c.parties() {
		p.send(&Message{Type: TypeCallState, CallID: c.ID, State: to, Cause: cause})
	}
	ev := CallEvent{CallID: c.ID, Account: c.Account, From: c.From, To: c.To, State: to, Cause: cause, SessionID: c.sessionID, Options: c.Options, At: now}
	c.srv.hook(func(ctx context.Context, h Hooks) { h.CallStateChanged(ctx, ev) })
	return nil
}

// finish releases everything the call holds; c.mu held.
func (c *Call) finish() {
	if c.stopTimer != nil {
		c.stopTimer()
	}
	s := c.srv
	s.callsMu.Lock()
	for _, k := range []identKey{{c.Account, c.From}, {c.Account, c.To}} {
		if s.busy[k] == c {
			delete(s.busy, k)
		}
	}
	s.callsMu.Unlock()
	s.clock.AfterFunc(s.cfg.CallRetention, func() {
		s.callsMu.Lock()
		delete(s.calls, c.ID)
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

func checkOptions(o *CallOptions) error {
	if o == nil {
		return nil
	}
	switch o.Recording {
	case "", "UNDEFINED", "AUDIO", "AUDIO_AND_VIDEO":
	default:
		return badMessage("recording must be UNDEFINED, AUDIO or AUDIO_AND_VIDEO")
	}
	size := 0
	for k, v := range o.CustomData {
		size += len(k) + len(v)
	}
	if len(o.CustomData) > 16 || size > 1024 {
		return badMessage("customData is limited to 16 entries and 1 KiB")
	}
	return nil
}

// placeCall starts a call from caller (nil: the server) to identity to.
func (s *Server) placeCall(ctx context.Context, account, from, displayName, to string, opts CallOptions, caller *peer, pubs []Publication, reqID string) (*Call, error) {
	to = normalizeCallee(to)
	if !auth.ValidIdentity(to) {
		return nil, &ProtocolError{Code: 406, Reason: "identity_not_acceptable", Message: "callee identity must be 3-64 letters, digits or - _ + = / ."}
	}
	if to == from {
		return nil, badMessage("cannot call yourself")
	}
	c := &Call{srv: s, ID: newCallID(), Account: account, From: from, DisplayName: displayName, To: to, Options: opts,
		caller: caller, callerPub: pubs, held: map[*peer]bool{}, ready: map[*peer]bool{}, pids: map[*peer]string{}, state: StateConnecting}
	c.history = []StateChange{{State: StateConnecting, At: s.clock.Now()}}

	s.callsMu.Lock()
	if s.busy[identKey{account, from}] != nil && caller != nil {
		s.callsMu.Unlock()
		return nil, &ProtocolError{Code: 409, Reason: "already_in_call", Message: "you are already in a call"}
	}
	s.calls[c.ID] = c
	if caller != nil {
		s.busy[identKey{account, from}] = c
	}
	calleeBusy := s.busy[identKey{account, to}] != nil
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
	calleeBusy = calleeBusy || (len(ring) == 0 && occupied > 0)
	if !calleeBusy {
		s.busy[identKey{account, to}] = c
	}
	s.callsMu.Unlock()

	c.mu.Lock()
	defer c.mu.Unlock()
	if caller != nil {
		caller.send(&Message{Type: TypeCallState, ID: reqID, CallID: c.ID, State: StateConnecting, To: to})
	}
	ev := CallEvent{CallID: c.ID, Account: account, From: from, To: to, State: StateConnecting, Options: opts, At: s.clock.Now()}
	s.hook(func(ctx context.Context, h Hooks) { h.CallStateChanged(ctx, ev) })
	switch {
	case calleeBusy:
		_ = c.setState(StateEnded, CauseBusy)
		return c, nil
	case len(ring) == 0 && calleeConnected:
		// Connected, but no connection may receive calls (no incoming grant).
		_ = c.setState(StateFailed, CauseForbidden)
		return c, nil
	case len(ring) == 0 && s.cfg.Waker == nil:
		_ = c.setState(StateFailed, CauseCalleeOffline)
		return c, nil
	case len(ring) == 0:
		w := Wakeup{Account: account, Identity: to, CallID: c.ID, From: from, DisplayName: displayName, ExpiresAt: s.clock.Now().Add(s.cfg.RingTimeout)}
		if err := s.cfg.Waker.Wake(ctx, w); err != nil {
			s.log.Warn("wake callee", "call", c.ID, "err", err)
			_ = c.setState(StateFailed, CauseUnreachable)
			return c, nil
		}
		c.woken = true
	}
	for _, p := range ring {
		c.ring(p)
	}
	// The ring timeout starts before anyone hears "ringing" (c.mu is held,
	// so it cannot fire first).
	c.stopTimer = s.clock.AfterFunc(s.cfg.RingTimeout, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.state == StateRinging {
			_ = c.setState(StateEnded, CauseNoAnswer)
		}
	})
	_ = c.setState(StateRinging, "")
	return c, nil
}

// ring sends incoming to a callee connection; c.mu held.
func (c *Call) ring(p *peer) {
	c.rung = append(c.rung, p)
	opts := c.Options
	p.send(&Message{Type: TypeIncoming, CallID: c.ID, From: c.From, DisplayName: c.DisplayName, Options: &opts})
}

// calleeConnected rings a connection the callee opened while the call rings
// (a woken phone, or a second device).
func (c *Call) calleeConnected(p *peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == StateRinging && !slices.Contains(c.rung, p) {
		c.ring(p)
		p.send(&Message{Type: TypeCallState, CallID: c.ID, State: StateRinging})
	}
}

// accept answers the call from callee connection p.
func (c *Call) accept(p *peer, pubs []Publication) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.rung, p) {
		return &ProtocolError{Code: 404, Reason: "no_such_call", Message: "this connection is not ringing for that call"}
	}
	if c.state != StateRinging {
		return &IllegalTransitionError{From: c.state, To: StateAccepted}
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
	for _, other := range c.rung {
		if other != p {
			other.send(&Message{Type: TypeCallState, CallID: c.ID, State: StateEnded, Cause: CauseAnsweredElsewhere})
		}
	}
	c.rung = []*peer{p}
	// The media timeout starts before anyone hears "accepted".
	c.stopTimer = c.srv.clock.AfterFunc(c.srv.cfg.MediaTimeout, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.state == StateAccepted {
			_ = c.setState(StateFailed, CauseTimeout)
		}
	})
	if err := c.setState(StateAccepted, ""); err != nil {
		return err
	}
	if c.caller != nil {
		caller, callerPubs := c.caller, c.callerPubs()
		caller.post(func() { caller.enterCall(c, s.ID, callerPubs) })
	}
	p.post(func() { p.enterCall(c, s.ID, pubs) })
	return nil
}

// callerPubs are the publications the caller announced with its call message.
func (c *Call) callerPubs() []Publication { return c.callerPub }

// reject declines the call from callee connection p.
func (c *Call) reject(p *peer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Contains(c.rung, p) {
		return &ProtocolError{Code: 404, Reason: "no_such_call", Message: "this connection is not ringing for that call"}
	}
	return c.setState(StateEnded, CauseRejected)
}

// hangup ends the call from p (nil: the server / REST API).
func (c *Call) hangup(p *peer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p != nil && !slices.Contains(c.parties(), p) {
		return &ProtocolError{Code: 404, Reason: "no_such_call", Message: "not a party of that call"}
	}
	switch c.state {
	case StateConnecting, StateRinging:
		if p != nil && p != c.caller {
			return c.setState(StateEnded, CauseRejected)
		}
		return c.setState(StateEnded, CauseCanceled)
	default:
		return c.setState(StateEnded, CauseNormal)
	}
}

// lost ends the call because p's connection went away.
func (c *Call) lost(p *peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == StateEnded || c.state == StateFailed {
		return
	}
	if c.callee == nil && p != c.caller {
		c.rung = slices.DeleteFunc(c.rung, func(q *peer) bool { return q == p })
		if len(c.rung) > 0 || c.woken {
			return // other devices still ring
		}
		_ = c.setState(StateFailed, CauseUnreachable)
		return
	}
	_ = c.setState(StateFailed, CauseUnreachable)
}

// mediaFailed fails an answered call whose media connection broke.
func (c *Call) mediaFailed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == StateAccepted || c.state == StateConfirmed {
		_ = c.setState(StateFailed, CauseMediaFailed)
	}
}

// mediaReady records that p's media is up; both up makes the call confirmed.
func (c *Call) mediaReady(p *peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ready[p] = true
	if c.state != StateAccepted {
		return
	}
	for _, q := range c.parties() {
		if !c.ready[q] {
			return
		}
	}
	_ = c.setState(StateConfirmed, "")
}

// hold puts the call on hold from p (or takes it off); while either side
// holds, nothing is forwarded either way.
func (c *Call) hold(p *peer, on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != StateAccepted && c.state != StateConfirmed || !slices.Contains(c.parties(), p) {
		return &ProtocolError{Code: 409, Reason: "not_established", Message: "hold needs an established call"}
	}
	c.held[p] = on
	anyHeld := false
	for _, h := range c.held {
		anyHeld = anyHeld || h
	}
	for _, q := range c.parties() {
		q.send(&Message{Type: TypeHoldChanged, CallID: c.ID, IsHold: &on, IsRemote: q != p})
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
	if !dtmfRule.MatchString(digits) {
		return badMessage("DTMF digits are 1-32 of 0-9 * # A-D")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != StateAccepted && c.state != StateConfirmed || !slices.Contains(c.parties(), p) {
		return &ProtocolError{Code: 409, Reason: "not_established", Message: "DTMF needs an established call"}
	}
	for _, q := range c.parties() {
		if q != p {
			q.send(&Message{Type: TypeDTMF, CallID: c.ID, From: p.claims.Subject, Digits: digits})
		}
	}
	ev := DTMFEvent{CallID: c.ID, Account: c.Account, From: p.claims.Subject, Digits: digits, At: c.srv.clock.Now()}
	c.srv.hook(func(ctx context.Context, h Hooks) { h.DTMFReceived(ctx, ev) })
	return nil
}

// Hangup ends a call from the server side.
func (c *Call) Hangup() error { return c.hangup(nil) }

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
