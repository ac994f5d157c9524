package calling

import (
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// negotiate sends an offer, or remembers to once the pending answer is in.
// The server is always the offerer, so there is no glare.
func (p *peer) negotiate() {
	if p.st.negotiating {
		p.st.again = true
		return
	}
	offer, err := p.st.pc.CreateOffer(nil)
	if err == nil {
		err = p.st.pc.SetLocalDescription(offer)
	}
	if err != nil {
		p.log.Error("offer", "err", err)
		p.fail(protocol.CloseInternal, "negotiation failed")
		return
	}
	p.st.negotiating = true
	p.st.offers++
	p.send(&protocol.Message{Type: protocol.TypeOffer, SDP: offer.SDP, Tracks: p.offeredTracks()})
}

func (p *peer) onAnswer(m *protocol.Message) error {
	if !p.st.negotiating {
		return &protocol.Error{Code: 409, Reason: protocol.ReasonUnexpectedAnswer, Message: "no offer is pending"}
	}
	if m.SDP == "" {
		return badMessage("answer needs sdp")
	}
	sdp, err := p.filterAnswer(m.SDP)
	if err != nil {
		return err
	}
	desc := webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}
	parsed, err := desc.Unmarshal()
	if err != nil {
		return badMessage("answer rejected: " + err.Error())
	}
	// Forwarded tracks bind (inside SetRemoteDescription) with the codecs
	// the client accepted on their m-line.
	for _, o := range p.st.senders {
		if md := mediaByMid(parsed, o.tr.Mid()); md != nil {
			o.payloadTypes = payloadTypes(md)
		}
	}
	if err := p.st.pc.SetRemoteDescription(desc); err != nil {
		return badMessage("answer rejected: " + err.Error())
	}
	p.st.negotiating = false
	p.st.answered++
	p.announceTracks(parsed)
	for _, c := range p.st.pendingICE {
		_ = p.st.pc.AddICECandidate(c)
	}
	p.st.pendingICE = nil
	if p.st.again {
		p.st.again = false
		p.negotiate()
	}
	return nil
}

func (p *peer) onCandidate(m *protocol.Message) error {
	if m.Candidate == nil {
		return badMessage("candidate needs candidate")
	}
	if keep, err := p.admitCandidate(m.Candidate.Candidate); !keep {
		return err // nil: ignored (outside the allowed networks, link-local, mDNS)
	}
	if p.st.pc.RemoteDescription() == nil {
		if len(p.st.pendingICE) >= 64 {
			return badMessage("too many early candidates")
		}
		p.st.pendingICE = append(p.st.pendingICE, *m.Candidate)
		return nil
	}
	if err := p.st.pc.AddICECandidate(*m.Candidate); err != nil {
		return badMessage("candidate rejected")
	}
	return nil
}
