package client

import (
	"encoding/json"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// RemoteTrack is a track the server forwards: whose it is and which stream
// (from the offer's list of mids, not from the track's msid).
type RemoteTrack struct {
	ParticipantID string
	Alias         string
	*webrtc.TrackRemote
	Receiver *webrtc.RTPReceiver
}

// Publish adds a track to send under a stream alias in every session this
// client joins or call it makes or answers. Call it before Join, Call or Accept.
func (c *Client) Publish(alias string, track webrtc.TrackLocal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pubs = append(c.pubs, protocol.Publication{Alias: alias, Kind: track.Kind().String()})
	c.tracksOut = append(c.tracksOut, track)
	return nil
}

// newPC makes the PeerConnection of a session the server just put us in,
// with our tracks; c.mu held.
func (c *Client) newPC() error {
	if c.pc != nil {
		_ = c.pc.Close()
	}
	pc, err := c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	c.pc = pc
	c.pendingICE = nil
	c.mids, c.inactive = nil, nil
	dcOpen := make(chan struct{})
	c.dcOpen = dcOpen
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		init := cand.ToJSON()
		_ = c.write(protocol.Message{Type: protocol.TypeCandidate, Candidate: &init})
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		rt := &RemoteTrack{ParticipantID: t.StreamID(), Alias: t.ID(), TrackRemote: t, Receiver: r}
		mid := ""
		for _, tr := range pc.GetTransceivers() {
			if tr.Receiver() == r {
				mid = tr.Mid()
			}
		}
		c.mu.Lock()
		if info, ok := c.mids[mid]; ok && mid != "" {
			rt.ParticipantID, rt.Alias = info.ParticipantID, info.StreamAlias
		}
		c.readRTCP(rt) // c.mu held
		c.mu.Unlock()
		select {
		case c.tracks <- rt:
		case <-c.ctx.Done():
		}
	})
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		if dc.Label() != protocol.DataChannelLabel {
			return
		}
		c.mu.Lock()
		c.dc = dc
		c.mu.Unlock()
		dc.OnOpen(func() { close(dcOpen) })
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			var env protocol.DataEnvelope
			if json.Unmarshal(m.Data, &env) != nil {
				return
			}
			select {
			case c.data <- env:
			default: // a reader that does not keep up loses data messages, not the connection
			}
		})
	})
	for _, track := range c.tracksOut {
		tr, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return err
		}
		sender, alias := tr.Sender(), track.ID()
		for i, t := range c.tracksOut {
			if t == track {
				alias = c.pubs[i].Alias
			}
		}
		c.wg.Add(1)
		go func() { // read RTCP so the interceptors work; ends when the PeerConnection closes
			defer c.wg.Done()
			buf := make([]byte, 1500)
			for {
				n, _, err := sender.Read(buf)
				if err != nil {
					return
				}
				pkts, err := rtcp.Unmarshal(buf[:n])
				if err != nil {
					continue
				}
				for _, p := range pkts {
					switch p.(type) {
					case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
						select {
						case c.keyframes <- alias:
						default:
						}
					}
				}
			}
		}()
	}
	return nil
}

// readRTCP starts reading the RTCP of rt's receiver until it stops (its
// PeerConnection closes), unless a goroutine already reads it or the
// client is closed; c.mu held. Reading it is what makes pion record the
// server's sender reports, so this client's receiver reports carry their
// times (LSR, DLSR) and the server can measure the round trip.
func (c *Client) readRTCP(rt *RemoteTrack) {
	r := rt.Receiver
	if c.closed || c.rtcpRead[r] {
		return
	}
	c.rtcpRead[r] = true
	c.wg.Add(1) // under c.mu with c.closed false: before Close waits
	go func() {
		defer c.wg.Done()
		defer func() {
			c.mu.Lock()
			delete(c.rtcpRead, r)
			c.mu.Unlock()
		}()
		for {
			pkts, _, err := r.ReadRTCP()
			if err != nil {
				return
			}
			if c.onRTCP != nil {
				c.onRTCP(rt, pkts)
			}
		}
	}()
}

// KeyframeRequests delivers the stream alias of a published video track
// whenever the server asks for a keyframe (PLI or FIR): send one then.
func (c *Client) KeyframeRequests() <-chan string { return c.keyframes }

// Tracks delivers the tracks the server forwards to this client.
func (c *Client) Tracks() <-chan *RemoteTrack { return c.tracks }

// PeerConnection is the PeerConnection of the current session (nil before
// the first join or call is set up).
func (c *Client) PeerConnection() *webrtc.PeerConnection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pc
}

func (c *Client) onOffer(m protocol.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pc == nil {
		// No session: the offer renegotiates one that has just ended (the
		// server may send it while the call's end is on its way); the server
		// drops that PeerConnection too. Ignored, like its candidates.
		return nil
	}
	c.mids = make(map[string]protocol.TrackInfo, len(m.Tracks))
	for _, t := range m.Tracks {
		c.mids[t.Mid] = t
	}
	offer, parked := c.parkInactive(m.SDP)
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return err
	}
	for _, cand := range c.pendingICE {
		if err := c.pc.AddICECandidate(cand); err != nil {
			return err
		}
	}
	c.pendingICE = nil
	answer, err := c.pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := c.pc.SetLocalDescription(answer); err != nil {
		return err
	}
	return c.write(protocol.Message{Type: protocol.TypeAnswer, SDP: setDirection(answer.SDP, parked, "inactive")})
}
