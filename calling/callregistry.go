package calling

import (
	"context"
	"crypto/rand"
	"slices"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// PlaceCall has the server call identity to on behalf of from (a display
// identity or an application name), like a Calls API. When the callee
// answers, its connection joins the call's session (CallInfo.SessionID),
// where the host can add participants through the REST API.
func (s *Server) PlaceCall(ctx context.Context, account, from, to string, opts protocol.CallOptions) (*Call, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return s.placeCallHere(ctx, account, from, to, opts, false)
}

// placeCallHere places a server call on this node, or (in a cluster, unless
// another node sent it here) on the node that is the callee's home. A call
// placed on another node is returned as a snapshot: its state stays there.
func (s *Server) placeCallHere(ctx context.Context, account, from, to string, opts protocol.CallOptions, relayed bool) (*Call, error) {
	to = normalizeCallee(to)
	release := func() {}
	if s.cfg.Cluster != nil && auth.ValidIdentity(to) {
		addr, rel, err := s.holdHome(ctx, identKey{account, to})
		if err != nil {
			return nil, err
		}
		if addr != "" {
			if relayed {
				return nil, errMoved
			}
			var info CallInfo
			if err := s.callRPC(ctx, addr, rpcPlaceCall, rpcRequest{Account: account, From: from, To: to, Options: &opts}, &info); err != nil {
				return nil, err
			}
			return remoteCall(s, account, info), nil
		}
		release = rel
	}
	c, err := s.placeCall(ctx, account, from, from, to, opts, nil, nil, "")
	if err != nil {
		release()
		return nil, err
	}
	c.holdHome(release)
	return c, nil
}

// goOnline registers a connection that may receive calls and reports
// whether it did.
func (s *Server) goOnline(p *peer) bool {
	k := identKey{p.claims.Account, p.claims.Subject}
	s.callsMu.Lock()
	s.connected[k]++
	s.peers[p] = struct{}{}
	if !p.mayRing() {
		s.callsMu.Unlock()
		return false
	}
	if s.online[k] == nil {
		s.online[k] = map[*peer]struct{}{}
	}
	s.online[k][p] = struct{}{}
	var ringing *Call
	if id, err := s.cfg.Presence.Holder(s.ctx, k.account, k.identity); err == nil && id != "" {
		ringing = s.calls[id] // nil when the call is on another node
	}
	s.callsMu.Unlock()
	if ringing != nil && ringing.To == p.claims.Subject {
		ringing.calleeConnected(p)
	}
	return true
}

func (s *Server) goOffline(p *peer) {
	k := identKey{p.claims.Account, p.claims.Subject}
	s.callsMu.Lock()
	delete(s.peers, p)
	if s.connected[k]--; s.connected[k] <= 0 {
		delete(s.connected, k)
	}
	delete(s.online[k], p)
	if len(s.online[k]) == 0 {
		delete(s.online, k)
	}
	// Only calls of this identity can have p as a party: the caller's
	// connection is From's, the ringing and answering ones are To's.
	calls := make([]*Call, 0, len(s.callsOf[k]))
	for c := range s.callsOf[k] {
		calls = append(calls, c)
	}
	s.callsMu.Unlock()
	for _, c := range calls {
		c.mu.Lock()
		party := slices.Contains(c.parties(), p)
		c.mu.Unlock()
		if party {
			c.lost(p)
		}
	}
}

// indexCall records c under both of its identities; callsMu held.
func (s *Server) indexCall(c *Call) {
	for _, k := range []identKey{{c.Account, c.From}, {c.Account, c.To}} {
		if s.callsOf[k] == nil {
			s.callsOf[k] = map[*Call]struct{}{}
		}
		s.callsOf[k][c] = struct{}{}
	}
}

// forgetCall removes c from the registry and the index; callsMu held.
func (s *Server) forgetCall(c *Call) {
	delete(s.calls, c.ID)
	s.releaseLease(c.Account, callLease+c.ID, func() bool { return true })
	for _, k := range []identKey{{c.Account, c.From}, {c.Account, c.To}} {
		delete(s.callsOf[k], c)
		if len(s.callsOf[k]) == 0 {
			delete(s.callsOf, k)
		}
	}
}

func newCallID() string { return "c-" + rand.Text() }

// Call returns a call by id (an ended call stays for Config.CallRetention).
func (s *Server) Call(account, id string) (*Call, bool) {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	c, ok := s.calls[id]
	if !ok || c.Account != account {
		return nil, false
	}
	return c, true
}

// setIncoming adds p to (or removes it from) the connections that ring for
// its identity, after a refreshed token changed the incoming grant.
func (s *Server) setIncoming(p *peer, on bool) {
	k := identKey{p.claims.Account, p.claims.Subject}
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	if _, open := s.peers[p]; !open {
		return
	}
	if !on {
		delete(s.online[k], p)
		if len(s.online[k]) == 0 {
			delete(s.online, k)
		}
		return
	}
	if s.online[k] == nil {
		s.online[k] = map[*peer]struct{}{}
	}
	s.online[k][p] = struct{}{}
}

// evictEndedCall forgets the call that ended first, before its retention
// is over, to make room under Limits.Calls; it reports whether there was
// one. callsMu held.
func (s *Server) evictEndedCall() bool {
	for len(s.ended) > 0 {
		c := s.ended[0]
		s.ended[0] = nil
		s.ended = s.ended[1:]
		if s.calls[c.ID] == c {
			s.forgetCall(c)
			return true
		}
	}
	return false
}
