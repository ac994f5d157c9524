package calling

import (
	"context"
	"encoding/json"

	"github.com/pion/webrtc/v4"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

func (p *peer) openDataChannel(pc *webrtc.PeerConnection) error {
	ordered := true
	dc, err := pc.CreateDataChannel(protocol.DataChannelLabel, &webrtc.DataChannelInit{Ordered: &ordered})
	if err != nil {
		return err
	}
	dc.OnMessage(func(msg webrtc.DataChannelMessage) { p.post(func() { p.onData(msg) }) })
	p.dcMu.Lock()
	p.dc = dcAdapter{dc}
	p.dcMu.Unlock()
	return nil
}

type dcAdapter struct{ *webrtc.DataChannel }

func (d dcAdapter) ReadyState() int { return int(d.DataChannel.ReadyState()) }

// sendData writes text to the peer's data channel if it is open.
func (p *peer) sendData(text string) bool {
	p.dcMu.Lock()
	dc := p.dc
	p.dcMu.Unlock()
	if dc == nil || dc.ReadyState() != int(webrtc.DataChannelStateOpen) {
		return false
	}
	return dc.SendText(text) == nil
}

// onData routes a participant's data-channel message (on the loop).
func (p *peer) onData(msg webrtc.DataChannelMessage) {
	reply := func(text string) {
		b, _ := json.Marshal(protocol.DataEnvelope{Type: protocol.DataError, Text: text, Date: p.srv.clock.Now().UTC()})
		p.sendData(string(b))
	}
	if !msg.IsString || len(msg.Data) > p.srv.cfg.MaxDataMessageBytes {
		reply("data messages are JSON text of at most the limit's size")
		return
	}
	if !p.maySendData() {
		reply("the token does not grant data")
		return
	}
	var env protocol.DataEnvelope
	if err := json.Unmarshal(msg.Data, &env); err != nil || env.Type != protocol.DataMessage {
		reply("expected {\"type\":\"message\",\"to\"?,\"text\"}")
		return
	}
	out, _ := json.Marshal(protocol.DataEnvelope{Type: protocol.DataMessage, Text: env.Text, From: p.identity, FromParticipant: p.pid, To: env.To, Date: p.srv.clock.Now().UTC()})
	r := p.room
	if r == nil {
		return
	}
	for _, o := range r.others(p) {
		if env.To == "" || env.To == o.identity {
			o.p.sendData(string(out))
		}
	}
}

// Broadcast sends text to every endpoint of the session that has an open
// data channel, as a broadcast event {text, date}, and returns how many
// received it (Infobip's broadcast-webrtc-text). It is the rooms.Broadcaster
// behind POST /v1/sessions/{sid}/broadcast; text over
// DefaultMaxBroadcastBytes is ErrTextTooLong.
func (s *Server) Broadcast(ctx context.Context, account, sessionID, text string) (int, error) {
	if len(text) > DefaultMaxBroadcastBytes {
		return 0, ErrTextTooLong
	}
	if s.lookupRoom(roomKey{account, sessionID}) == nil && s.cfg.Cluster != nil {
		// Served by another node, if by any.
		node, addr, err := s.cfg.Cluster.Holder(ctx, account, roomLease+sessionID)
		if err != nil {
			return 0, clusterErr("finding a room", err)
		}
		if node != "" && node != s.cfg.Cluster.NodeID() {
			var out struct {
				Received int `json:"received"`
			}
			err := s.callRPC(ctx, addr, rpcBroadcast, rpcRequest{Account: account, SessionID: sessionID, Text: text}, &out)
			return out.Received, err
		}
	}
	return s.broadcastHere(account, sessionID, text)
}

// broadcastHere sends text to the connections in the session on this node.
func (s *Server) broadcastHere(account, sessionID, text string) (int, error) {
	if len(text) > DefaultMaxBroadcastBytes {
		return 0, ErrTextTooLong
	}
	r := s.lookupRoom(roomKey{account, sessionID})
	if r == nil {
		return 0, nil
	}
	b, _ := json.Marshal(protocol.DataEnvelope{Type: protocol.DataBroadcast, Text: text, Date: s.clock.Now().UTC()})
	n := 0
	for _, p := range r.snapshot() {
		if p.sendData(string(b)) {
			n++
		}
	}
	return n, nil
}
