package calling

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// Relay kinds: what a connection relayed to another node is for.
const (
	// relayConnection: the whole connection of an identity whose home (where
	// it rings) is the other node; it lasts as long as the connection.
	relayConnection = "connection"
	// relayRoom: one room or session served by the other node; it lasts
	// until the connection ends or the room is left.
	relayRoom = "room"
	// relayCall: one call placed to a callee whose home is the other node;
	// it ends with the call, and the connection is served here again.
	relayCall = "call"
)

// relayDialTimeout bounds connecting to another node.
const relayDialTimeout = 5 * time.Second

// nodeRelay carries one client connection's messages to the node that serves
// it and that node's messages back, verbatim. The peer's loop owns it
// (p.rl): it forwards what the client sends; the relay's reader queues
// what the other node sends on the peer's writer, and tells the loop when a
// room or call relay is over or the other node closed.
type nodeRelay struct {
	p      *peer
	kind   string
	conn   *websocket.Conn
	reqID  string      // the id of the join or call that started it
	out    chan []byte // to the other node; full = that node is not reading
	ctx    context.Context
	cancel context.CancelFunc
	ended  atomic.Bool // closed on purpose: the reader's error is not news
	// over is set by the reader before it passes on the message that ends
	// a room or call relay, so the loop serves the client's next message
	// here, not on the other node.
	over atomic.Bool
}

// dialRelay opens a relayed connection of kind to the node at addr (the URL
// of its signaling endpoint), presenting the client's token.
func (s *Server) dialRelay(ctx context.Context, addr, kind, token string) (*websocket.Conn, error) {
	u := addr
	switch {
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + strings.TrimPrefix(u, "http://")
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + strings.TrimPrefix(u, "https://")
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	s.signRelay(h, kind, []byte(token))
	ctx, cancel := context.WithTimeout(ctx, relayDialTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h, HTTPClient: s.relayHTTP})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		s.log.Warn("relaying to another node", "node", addr, "err", err)
		return nil, &protocol.Error{Code: 503, Reason: protocol.ReasonNodeUnreachable, Message: "the node serving this could not be reached; retry"}
	}
	// The other node checks the client's messages against its own limit;
	// its messages to the client were within it when it wrote them.
	conn.SetReadLimit(int64(s.cfg.MaxMessageBytes) * 4)
	return conn, nil
}

func (p *peer) newRelay(conn *websocket.Conn, kind, reqID string) *nodeRelay {
	ctx, cancel := context.WithCancel(p.ctx)
	return &nodeRelay{p: p, kind: kind, conn: conn, reqID: reqID, out: make(chan []byte, p.srv.cfg.WriteQueue), ctx: ctx, cancel: cancel}
}

// startRelay relays m (a join or a call) and what follows it to the node at
// addr; the loop forwards the client's messages there until the relay ends.
func (p *peer) startRelay(kind, addr string, m *protocol.Message) error {
	conn, err := p.srv.dialRelay(p.ctx, addr, kind, p.tok)
	if err != nil {
		return err
	}
	rl := p.newRelay(conn, kind, m.ID)
	p.rl = rl
	if kind == relayRoom {
		p.inRoom.Store(true) // not rung here while in a room elsewhere
	}
	rl.start()
	rl.forward(m)
	return nil
}

func (rl *nodeRelay) start() {
	rl.p.wg.Add(3)
	go rl.writer()
	go rl.reader()
	go rl.pinger()
}

// pinger pings the other node as the Server pings clients: a node that
// vanished without closing (a partition, a lost host) ends the relay with
// node_unreachable within PingInterval + PingTimeout.
func (rl *nodeRelay) pinger() {
	defer rl.p.wg.Done()
	if keepalive(rl.ctx, rl.conn, rl.p.srv.cfg.PingInterval, rl.p.srv.cfg.PingTimeout) && !rl.ended.Load() {
		rl.p.post(func() { rl.p.relayClosed(rl, -1, "") })
	}
}

// forward queues a client message for the other node; loop only.
func (rl *nodeRelay) forward(m *protocol.Message) {
	b, err := protocol.Encode(m)
	if err != nil {
		return
	}
	select {
	case rl.out <- b:
	default:
		rl.p.fail(protocol.CloseNodeUnreachable, "the node serving this connection is not reading")
	}
}

func (rl *nodeRelay) writer() {
	defer rl.p.wg.Done()
	for {
		select {
		case <-rl.ctx.Done():
			return
		case b := <-rl.out:
			// Not rl.ctx: coder/websocket closes a connection whose write
			// context ends, which would lose the close code.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := rl.conn.Write(ctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				if !rl.ended.Load() && rl.ctx.Err() == nil {
					rl.p.post(func() { rl.p.relayClosed(rl, -1, "") })
				}
				return
			}
		}
	}
}

// reader passes the other node's messages to the client as they are, and
// watches for the end of a room or call relay.
func (rl *nodeRelay) reader() {
	defer rl.p.wg.Done()
	started := false
	for {
		_, b, err := rl.conn.Read(context.Background()) // ends when the relay is closed
		if err != nil {
			if !rl.ended.Load() {
				code, reason := websocket.CloseStatus(err), ""
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					reason = ce.Reason
				}
				rl.p.post(func() { rl.p.relayClosed(rl, code, reason) })
			}
			return
		}
		var h struct{ Type, ID, State string }
		if rl.kind == relayConnection || json.Unmarshal(b, &h) != nil {
			if !rl.p.sendRaw(b) {
				return
			}
			continue
		}
		end := false
		switch h.Type {
		case protocol.TypeError:
			end = !started && (rl.reqID == "" || h.ID == rl.reqID) // the join or call was refused there
		case protocol.TypeJoined:
			started = true
		case protocol.TypeCallState:
			started = true
			end = rl.kind == relayCall && (h.State == string(protocol.StateEnded) || h.State == string(protocol.StateFailed))
		case protocol.TypeLeft:
			end = rl.kind == relayRoom
		}
		if end {
			rl.over.Store(true) // before the client can see it and send its next request
		}
		if !rl.p.sendRaw(b) {
			return
		}
		if end {
			rl.p.post(func() { rl.p.endRelay(rl) })
		}
	}
}

// close ends the relayed connection on purpose.
func (rl *nodeRelay) close(code websocket.StatusCode, reason string) {
	if rl.ended.Swap(true) {
		return
	}
	rl.cancel()
	rl.p.wg.Add(1)
	go func() { // the closing handshake waits for the other node
		defer rl.p.wg.Done()
		_ = rl.conn.Close(code, reason)
	}()
}

// endRelay ends a room or call relay that is over: the connection is served
// here again. Loop only.
func (p *peer) endRelay(rl *nodeRelay) {
	if p.rl != rl {
		return
	}
	p.rl = nil
	p.inRoom.Store(false)
	rl.close(websocket.StatusNormalClosure, "relay ended")
}

// relayClosed ends the client's connection as the other node ended the
// relayed one: with its close code, or node_unreachable when it went away
// without one. Loop only.
func (p *peer) relayClosed(rl *nodeRelay, code websocket.StatusCode, reason string) {
	if p.rl != rl {
		return
	}
	p.rl = nil
	rl.close(websocket.StatusNormalClosure, "")
	if code <= 0 {
		p.fail(protocol.CloseNodeUnreachable, "the node serving this connection went away")
		return
	}
	p.fail(code, reason)
}

// sendRaw queues an encoded message for the client, as send does; false
// when the connection is ending.
func (p *peer) sendRaw(b []byte) bool {
	select {
	case p.out <- b:
		return true
	default:
		p.fail(protocol.CloseSlowConsumer, "slow consumer: outgoing queue full")
		return false
	}
}

// relayed handles a client message while its connection is relayed: a
// refresh is applied here too (this node's copy of the token must not
// expire under it), everything is forwarded. Loop only.
func (p *peer) relayed(m *protocol.Message) {
	if m.Type == protocol.TypeRefresh {
		if err := p.refreshHere(m); err != nil {
			p.sendError(m.ID, err)
			return
		}
	}
	p.rl.forward(m)
}
