package calling

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// peer is one signaling connection and, after join, its PeerConnection. It
// is an actor (docs/architecture.md): a reader goroutine, a writer goroutine
// with a bounded queue, and one loop that alone mutates the state and pings
// in peerState. Anything else talks to it through send, poke, post and fail.
type peer struct {
	srv    *Server
	conn   *websocket.Conn
	claims *auth.Claims
	log    *slog.Logger

	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup // reader, a ping waiting for its pong, track readers (Forward), RTCP readers
	writerDone chan struct{}

	out   chan []byte            // to the writer; full = slow consumer
	inbox chan *protocol.Message // from the reader
	fnMu  sync.Mutex             // guards fnQ
	fnQ   []func()               // from pion callbacks and calls, run on the loop
	fnC   chan struct{}          // cap 1: "fnQ is not empty"
	syncC chan struct{}          // cap 1: "subscriptions may have changed"

	closeMu   sync.Mutex
	closeCode websocket.StatusCode
	closeMsg  string

	// noData: the client's last join, call or accept asked for no data
	// channel (on the loop).
	noData bool
	// pinging: a ping waits for its pong (ping).
	pinging atomic.Bool

	// Set once by join (on the loop) before the peer is visible to others.
	pid      string
	identity string
	room     *room
	dcMu     sync.Mutex
	dc       dataSender
	// inRoom is set while the connection is in a room (not a call's
	// session: the busy marks cover calls, and are cleared when a call ends,
	// before its parties have left its session): it cannot answer a call
	// then, so it is not rung.
	inRoom atomic.Bool

	st      peerState   // loop only
	lim     peerLimits  // loop only
	call    *Call       // loop only: the call this connection is in
	expStop func() bool // loop only: stops the token expiry timer
	// token is p.claims for goroutines other than the loop (the revocation
	// sweep); the loop stores it whenever a refresh replaces p.claims.
	token atomic.Pointer[auth.Claims]

	// Cluster relays (cluster.go, relay.go). Set before run, or on the loop.
	tok     string     // the token as presented (loop only after run starts)
	relayIn string     // this connection was relayed here by another node: its kind
	noRing  bool       // never rung here (relayed here for one room or call, or relayed on to its home)
	rl      *nodeRelay // loop only: the relay to the node serving this connection, if any
	// homeHeld gives back the identity's home a refresh that gained the
	// incoming grant claimed (loop only; released at the end).
	homeHeld func()
}

// dataSender is the part of a data channel the room writes to.
type dataSender interface {
	SendText(string) error
	ReadyState() int
}

func newPeer(s *Server, conn *websocket.Conn, c *auth.Claims) *peer {
	ctx, cancel := context.WithCancel(s.ctx)
	p := &peer{
		srv: s, conn: conn, claims: c, ctx: ctx, cancel: cancel,
		log:        s.log.With("identity", c.Subject),
		out:        make(chan []byte, s.cfg.WriteQueue),
		inbox:      make(chan *protocol.Message, 16),
		fnC:        make(chan struct{}, 1),
		syncC:      make(chan struct{}, 1),
		writerDone: make(chan struct{}),
	}
	p.token.Store(c)
	return p
}

// run serves the connection until it ends, then cleans up. The WebSocket
// is never read or written with p.ctx: coder/websocket closes the
// connection when such a context ends, which would lose the queued messages
// and the close code. Instead the writer flushes, then Close sends the close
// frame, which ends the reader's Read.
func (p *peer) run() {
	p.wg.Add(1) // the reader; the writer signals writerDone
	go p.reader()
	go p.writer()
	online := p.srv.goOnline(p)
	switch {
	case p.rl != nil: // the home node greets it
		p.rl.start()
	case p.relayIn == relayRoom || p.relayIn == relayCall: // the relaying node greeted it
	default:
		p.send(&protocol.Message{Type: protocol.TypeStatus, Status: "connected", Identity: p.claims.Subject, Incoming: online})
	}
	p.armExpiry()
	p.loop()
	p.expStop()
	p.cancel()
	if p.rl != nil {
		p.closeMu.Lock()
		code, reason := p.closeCode, p.closeMsg
		p.closeMu.Unlock()
		p.rl.close(cmp.Or(code, websocket.StatusGoingAway), reason)
		p.rl = nil
	}
	p.cleanup()
	<-p.writerDone
	p.closeMu.Lock()
	code, reason := p.closeCode, p.closeMsg
	p.closeMu.Unlock()
	switch {
	case code != 0:
	case p.srv.ctx.Err() != nil:
		code, reason = websocket.StatusGoingAway, "server shutting down"
	default:
		code, reason = websocket.StatusNormalClosure, "bye"
	}
	_ = p.conn.Close(code, reason)
	p.wg.Wait()
}

// fail ends the connection with a close code and reason (the first one wins).
func (p *peer) fail(code websocket.StatusCode, reason string) {
	p.closeMu.Lock()
	first := p.closeCode == 0
	if first {
		p.closeCode, p.closeMsg = code, reason
	}
	p.closeMu.Unlock()
	if first && code == protocol.CloseSessionEnded {
		p.tellReconnect() // a draining server says where to go next (drain.go)
	}
	p.cancel()
}

// encode returns the wire form of m (Encode fails on no message the
// server makes).
func encode(m *protocol.Message) []byte {
	b, _ := protocol.Encode(m)
	return b
}

// send queues a message for the client without ever blocking; a full queue
// disconnects the client as a slow consumer.
func (p *peer) send(m *protocol.Message) {
	select {
	case p.out <- encode(m):
	default:
		p.fail(protocol.CloseSlowConsumer, "slow consumer: outgoing queue full")
	}
}

// sendError reports a protocol error for request id.
func (p *peer) sendError(id string, err error) {
	p.send(&protocol.Message{Type: protocol.TypeError, ID: id, Error: protocolError(err)})
}

// poke asks the loop to recompute what this peer receives.
func (p *peer) poke() {
	select {
	case p.syncC <- struct{}{}:
	default:
	}
}

// post runs fn on the loop. It never blocks (the queue is unbounded, and
// short: pion callbacks and call events), so it is safe from any goroutine,
// including the loop itself and code holding a Call's lock. After the loop
// has ended, fn is dropped.
func (p *peer) post(fn func()) {
	p.fnMu.Lock()
	p.fnQ = append(p.fnQ, fn)
	p.fnMu.Unlock()
	select {
	case p.fnC <- struct{}{}:
	default:
	}
}

func (p *peer) reader() {
	defer p.wg.Done()
	defer p.cancel()
	flood := newFloodGuard(p.srv.cfg.MessageRate, p.srv.cfg.MessageBurst, p.srv.lim.cfg.FloodMessages)
	for {
		typ, data, err := p.conn.Read(context.Background()) // ends when run closes the connection
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusMessageTooBig || errors.Is(err, websocket.ErrMessageTooBig) {
				p.fail(websocket.StatusMessageTooBig, "message too big")
			}
			return
		}
		switch flood.admit(p.srv.clock.Now()) {
		case floodWarn: // told once, never a reply per dropped message: those would fill its queue
			p.send(&protocol.Message{Type: protocol.TypeError, Error: &protocol.Error{Code: 429, Reason: protocol.ReasonRateLimited, Message: "too many messages; slow down or be disconnected"}})
			continue
		case floodDrop:
			continue
		case floodClose:
			p.fail(protocol.CloseRateLimited, "flooding: too many messages")
			return
		}
		if typ != websocket.MessageText {
			p.sendError("", badMessage("binary messages are not part of the protocol"))
			continue
		}
		m, perr := protocol.DecodeClientMessage(data)
		if perr != nil {
			p.sendError(m.ID, perr)
			continue
		}
		select {
		case p.inbox <- m:
		case <-p.ctx.Done():
			return
		}
	}
}

func (p *peer) writer() {
	defer close(p.writerDone)
	defer p.cancel()
	for {
		select {
		case <-p.ctx.Done():
			// Flush what is queued (a final error or bye) briefly.
			for {
				select {
				case b := <-p.out:
					ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
					err := p.conn.Write(ctx, websocket.MessageText, b)
					cancel()
					if err != nil {
						return
					}
				default:
					return
				}
			}
		case b := <-p.out:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := p.conn.Write(ctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				p.fail(protocol.CloseTimeout, "write failed")
				return
			}
		}
	}
}

// ping checks that the client is alive (on the loop, every PingInterval):
// a goroutine that lives for one ping waits for the pong, so no goroutine
// per connection waits between pings. No pong within PingTimeout closes
// the connection with 4408.
func (p *peer) ping() {
	if !p.pinging.CompareAndSwap(false, true) {
		return // the last one is still waiting
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.pinging.Store(false)
		// Not bound to p.ctx: coder/websocket closes a connection whose
		// context ends, which would lose the close code.
		ctx, cancel := context.WithTimeout(context.Background(), p.srv.cfg.PingTimeout)
		err := p.conn.Ping(ctx)
		cancel()
		if err != nil && p.ctx.Err() == nil {
			p.fail(protocol.CloseTimeout, "ping timeout")
		}
	}()
}

// keepalive pings conn every interval until ctx ends; it reports true when
// a pong did not come within timeout (while ctx was still live). The ping
// is not bound to ctx: coder/websocket closes a connection whose context
// ends, which would lose the close code.
func keepalive(ctx context.Context, conn *websocket.Conn, interval, timeout time.Duration) (lost bool) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			pctx, cancel := context.WithTimeout(context.Background(), timeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				return true
			}
		}
	}
}

func (p *peer) loop() {
	pings := time.NewTicker(p.srv.cfg.PingInterval)
	defer pings.Stop()
	for {
		p.drainIfIdle() // drain.go
		select {
		case <-p.ctx.Done():
			return
		case <-pings.C:
			p.ping()
		case m := <-p.inbox:
			p.handle(m)
		case <-p.fnC:
			p.fnMu.Lock()
			q := p.fnQ
			p.fnQ = nil
			p.fnMu.Unlock()
			for _, fn := range q {
				fn()
			}
		case <-p.syncC:
			p.sync()
		}
	}
}

func (p *peer) handle(m *protocol.Message) {
	if p.rl != nil && p.rl.over.Load() {
		p.endRelay(p.rl) // its room or call is over: this message is served here
	}
	if p.refuseDraining(m) { // drain.go
		return
	}
	if p.rl != nil {
		p.relayed(m)
		return
	}
	switch m.Type {
	case protocol.TypePing:
		p.send(&protocol.Message{Type: protocol.TypePong, ID: m.ID})
	case protocol.TypeJoin:
		if err := p.join(m); err != nil {
			p.sendError(m.ID, err)
		}
	case protocol.TypeRefresh:
		if err := p.refresh(m); err != nil {
			p.sendError(m.ID, err)
		}
	case protocol.TypeLeave:
		p.send(&protocol.Message{Type: protocol.TypeBye, ID: m.ID})
		p.fail(websocket.StatusNormalClosure, "left")
	case protocol.TypeCall, protocol.TypeAccept, protocol.TypeReject, protocol.TypeHangup, protocol.TypeHold, protocol.TypeDTMF:
		if err := p.handleCall(m); err != nil {
			p.sendError(m.ID, err)
		}
	default:
		if p.room == nil {
			p.sendError(m.ID, &protocol.Error{Code: 409, Reason: protocol.ReasonNotJoined, Message: "join first"})
			return
		}
		var err error
		switch m.Type {
		case protocol.TypeAnswer:
			err = p.onAnswer(m)
		case protocol.TypeCandidate:
			err = p.onCandidate(m)
		case protocol.TypePublish:
			err = p.publish(m.Publish)
		case protocol.TypeUnpublish:
			err = p.unpublish(m.StreamAlias)
		case protocol.TypeMute:
			err = p.mute(m)
		}
		if err != nil {
			p.sendError(m.ID, err)
		}
	}
}

// peerState is owned by the peer's loop.
type peerState struct {
	pc          *webrtc.PeerConnection
	feedback    *feedback                                    // the RTCP of pc's senders (nil: read by a goroutine each)
	ephemeral   bool                                         // participant created for this connection; deleted on leave
	leaveRoom   bool                                         // joined a room by name; leaves it on disconnect
	roomName    string                                       // the room joined by name ("" for a session joined by id)
	mutes       map[string]bool                              // alias → muted, for announced streams (also before their first packet)
	senders     map[trackKey]*outTrack                       // forwarded tracks and their m-lines
	spare       []spareTransceiver                           // sendonly m-lines free for reuse
	published   map[string]*pubTrack                         // alias → track
	recv        map[*webrtc.RTPReceiver]protocol.Publication // announced publications by receiver
	fwd         map[*webrtc.RTPReceiver]*pubTrack            // each receiver's track, from its negotiation
	offers      int                                          // offers made
	answered    int                                          // offers answered
	negotiating bool                                         // offer sent, answer pending
	again       bool                                         // renegotiate after the answer
	pendingICE  []webrtc.ICECandidateInit
	connected   bool   // the PeerConnection has reached connected
	recording   string // the recording option asked for on join (a room's)
}
