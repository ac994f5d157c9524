package calling

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// DrainOptions configures Server.Drain.
type DrainOptions struct {
	// ReconnectURL is where clients connect again, an absolute ws:// or
	// wss:// URL handed to them in the reconnect message. "" tells them to
	// connect to the same URL again: right behind a load balancer, which
	// sends the new connection to a node that is ready.
	ReconnectURL string
}

// drainer is a Server's drain state; safe for concurrent use.
type drainer struct {
	on atomic.Bool // read on every loop turn of a connection

	mu    sync.Mutex
	url   string
	conns int                // signaling requests being served (ServeHTTP)
	empty chan struct{}      // made by the first Drain; closed when conns is 0
	told  map[*peer]struct{} // connections sent a reconnect message
}

// Drain takes the server out of service without cutting calls short.
// From the first call on:
//
//   - a new signaling connection is refused before the upgrade with HTTP
//     503 {"code":"draining",...};
//   - join and call from the open connections are refused with an error
//     503 draining (accept, hangup and the rest still work, so business
//     under way finishes);
//   - a connection in no call and no room, and not ringing, is sent a
//     reconnect message {"type":"reconnect","reason":"draining","url":...}
//     and closed with 1012 (service restart);
//   - a connection in a call (or ringing for one) or in a room keeps its
//     media until that call or room ends for it, then gets the same
//     reconnect and close (a room whose session ends closes with 4410 as
//     always, after the reconnect message).
//
// Calls placed to an identity connected here are not refused: they ring
// whichever of its connections here may still ring (in practice few: the
// idle ones were told to reconnect, and are reached on their new
// connection or through the Waker).
//
// Drain returns nil when every connection has gone. When ctx ends first,
// it fails the calls still live (server_shutdown), sends every connection
// left the reconnect message, closes it with 1012, and returns ctx.Err()
// without waiting for those connections to finish closing (Close waits for
// them). The options of the first call apply; calling Drain again (or
// concurrently) waits the same way. Close after Drain works as always.
// Drain returns ErrReconnectURL, and does nothing, for a ReconnectURL that
// is not an absolute ws:// or wss:// URL.
func (s *Server) Drain(ctx context.Context, opts DrainOptions) error {
	if u := opts.ReconnectURL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "ws" && pu.Scheme != "wss") || pu.Host == "" {
			return ErrReconnectURL
		}
	}
	empty, first := s.drain.start(opts.ReconnectURL)
	if first {
		live := s.livePeers()
		s.log.Info("draining", "connections", len(live))
		for _, p := range live {
			p.post(func() {}) // its loop checks whether it is idle (drainIfIdle)
		}
	}
	select {
	case <-empty:
		return nil
	case <-ctx.Done():
	}
	s.failLiveCalls(protocol.CauseServerShutdown)
	for _, p := range s.livePeers() {
		p.reconnect()
	}
	return ctx.Err()
}

// Draining reports whether Drain has been called.
func (s *Server) Draining() bool { return s.drain.on.Load() }

// start marks the server draining (the first time: with url) and returns
// the channel closed when no connection is left.
func (d *drainer) start(url string) (empty <-chan struct{}, first bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.empty == nil {
		first = true
		d.url, d.empty, d.told = url, make(chan struct{}), map[*peer]struct{}{}
		if d.conns == 0 {
			close(d.empty)
		}
		d.on.Store(true)
	}
	return d.empty, first
}

// admit counts a signaling connection, or refuses it (HTTP 503 draining)
// when the server is draining; relay is the Switchboard-Relay header of a
// request from another node ("" for a client). While draining, a client's
// connection and one relayed to its home here are refused; a room or call
// relayed here is let in (its join is then refused with an error 503
// draining, which the client sees as it is; its call is placed: calls to
// an identity connected here are not refused), and the requests between
// nodes (broadcast, the calls API, recordings) are neither refused nor
// counted: the rooms and calls still here must answer them. Call release
// when the request is over.
func (d *drainer) admit(relay string) (release func(), err error) {
	switch relay {
	case "", relayConnection, relayRoom, relayCall:
	default:
		return func() {}, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.on.Load() && (relay == "" || relay == relayConnection) {
		return nil, httpx.Errorf(http.StatusServiceUnavailable, protocol.ReasonDraining, "the server is draining; connect again (to another node)")
	}
	d.conns++
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.conns--; d.conns == 0 && d.empty != nil {
			close(d.empty)
		}
	}, nil
}

// livePeers returns every open connection.
func (s *Server) livePeers() []*peer {
	s.callsMu.Lock()
	defer s.callsMu.Unlock()
	out := make([]*peer, 0, len(s.peers))
	for p := range s.peers {
		out = append(out, p)
	}
	return out
}

// failLiveCalls fails every call that has not ended, with cause.
func (s *Server) failLiveCalls(cause protocol.Cause) {
	s.callsMu.Lock()
	live := make([]*Call, 0, len(s.calls))
	for _, c := range s.calls {
		live = append(live, c)
	}
	s.callsMu.Unlock()
	for _, c := range live {
		c.mu.Lock()
		if c.state != protocol.StateEnded && c.state != protocol.StateFailed {
			_ = c.setState(protocol.StateFailed, cause)
		}
		c.mu.Unlock()
	}
}

// refuseDraining answers join and call on a draining server with an error
// 503 draining, and reports whether it did (on the loop). A call relayed
// here from another node is placed: its callee's home is here.
func (p *peer) refuseDraining(m *protocol.Message) bool {
	if (m.Type != protocol.TypeJoin && m.Type != protocol.TypeCall) || !p.srv.drain.on.Load() ||
		(m.Type == protocol.TypeCall && p.relayIn == relayCall) {
		return false
	}
	p.sendError(m.ID, &protocol.Error{Code: 503, Reason: protocol.ReasonDraining, Message: "the server is draining; reconnect and retry"})
	return true
}

// drainIfIdle sends a connection of a draining server that is in no call
// or room, and not ringing, the reconnect message and closes it (on the
// loop, which alone knows whether it is in a call or room: the loop runs
// it before each turn, so a connection that leaves its call or room goes
// at once). In a cluster, a connection relayed to another node (p.rl)
// stays while the relay lasts: a room or call relay ends with its room or
// call, and the connection is idle here again; a connection relayed to its
// identity's home stays until the drain's deadline (whether it is in a call
// there is not known here). A room or call relayed here from another node
// is never sent away when idle: the relaying node ends the relay itself.
func (p *peer) drainIfIdle() {
	if !p.srv.drain.on.Load() || p.ctx.Err() != nil || p.room != nil || p.call != nil ||
		p.rl != nil || p.relayIn == relayRoom || p.relayIn == relayCall || p.srv.ringing(p) {
		return
	}
	p.reconnect()
}

// reconnect sends the reconnect message and closes with 1012. Safe from
// any goroutine.
func (p *peer) reconnect() {
	p.tellReconnect()
	p.fail(websocket.StatusServiceRestart, "server draining")
}

// tellReconnect sends the reconnect message, once, when the server is
// draining. Safe from any goroutine.
func (p *peer) tellReconnect() {
	d := &p.srv.drain
	if !d.on.Load() {
		return
	}
	d.mu.Lock()
	_, told := d.told[p]
	d.told[p] = struct{}{}
	u := d.url
	d.mu.Unlock()
	if !told {
		p.send(&protocol.Message{Type: protocol.TypeReconnect, Reason: protocol.ReasonDraining, URL: u})
	}
}

// drainNudge wakes p's loop on a draining server, so that it checks
// whether it is idle now (a connection that stopped ringing because
// another answered has nothing else that wakes it).
func (p *peer) drainNudge() {
	if p.srv.drain.on.Load() {
		p.post(func() {})
	}
}

// ringing reports whether p rings for a call nobody has answered yet.
func (s *Server) ringing(p *peer) bool {
	k := identKey{p.claims.Account, p.claims.Subject}
	s.callsMu.Lock()
	calls := make([]*Call, 0, len(s.callsOf[k]))
	for c := range s.callsOf[k] {
		calls = append(calls, c)
	}
	s.callsMu.Unlock()
	for _, c := range calls { // c.mu is never taken under callsMu
		c.mu.Lock()
		r := c.callee == nil && slices.Contains(c.rung, p) && (c.state == protocol.StateConnecting || c.state == protocol.StateRinging)
		c.mu.Unlock()
		if r {
			return true
		}
	}
	return false
}
