package calling

import (
	"strconv"
	"strings"

	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// A published track's forwarder exists from the negotiation on: once the
// publisher's answer fixes the codec of a receiving m-line, the track is
// in the room and subscribers are offered it, before its first packet.
// When the first packet arrives (OnTrack) the publisher's TrackRemote is
// attached and forwarding starts, so no packet is lost to subscribers that
// are already bound.

// newTrack makes the forwarder of publication pub received on recv and
// puts it in the room. The caller reports the streams.
func (p *peer) newTrack(pub protocol.Publication, recv *webrtc.RTPReceiver, codec webrtc.RTPCodecCapability) *forwarder {
	pc := p.st.pc
	kind := webrtc.RTPCodecTypeAudio
	if pub.Kind == "video" {
		kind = webrtc.RTPCodecTypeVideo
	}
	f := newForwarder(p, pub.Alias, kind, codec, nil, nil)
	f.keyframe = func() {
		_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: f.ssrc.Load()}})
	}
	f.events = telephoneEvents(recv.GetParameters().Codecs)
	f.muted.Store(p.st.mutes[pub.Alias]) // announced muted, or muted before its media
	p.st.fwd[recv] = f
	p.st.published[pub.Alias] = f
	p.room.publish(trackKey{p.pid, pub.Alias}, f)
	return f
}

// announceTracks makes the forwarders of the receiving m-lines the
// publisher's answer has just accepted for sending.
func (p *peer) announceTracks(answer *sdp.SessionDescription) {
	added := false
	for _, tr := range p.st.pc.GetTransceivers() {
		recv := tr.Receiver()
		if recv == nil {
			continue
		}
		pub, ok := p.st.recv[recv]
		if !ok || p.st.fwd[recv] != nil {
			continue
		}
		md := mediaByMid(answer, tr.Mid())
		if md == nil || !mediaSends(md) {
			continue // not (yet) sent by the client
		}
		codec, ok := firstMediaCodec(md, recv.GetParameters().Codecs)
		if !ok {
			continue
		}
		p.newTrack(pub, recv, codec)
		added = true
	}
	if added {
		p.reportStreams()
	}
}

func (p *peer) onTrack(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	pub, ok := p.st.recv[recv]
	if !ok {
		return
	}
	// The codec of the first packet, unless that packet was a telephone
	// event (or RTX, FEC): then the receiver's first media codec.
	codec := t.Codec().RTPCodecCapability
	firstIsMedia := isMediaCodec(codec.MimeType)
	if !firstIsMedia {
		for _, c := range recv.GetParameters().Codecs {
			if isMediaCodec(c.MimeType) {
				codec = c.RTPCodecCapability
				break
			}
		}
	}
	f := p.st.fwd[recv]
	switch {
	case f == nil: // not seen in an answer: announce it now
		f = p.newTrack(pub, recv, codec)
		p.reportStreams()
	case f.remote != nil:
		return // already attached
	case firstIsMedia && p.st.published[pub.Alias] == f &&
		(!strings.EqualFold(f.codec.MimeType, codec.MimeType) || f.codec.SDPFmtpLine != codec.SDPFmtpLine):
		// The client sends another codec than its answer put first: a new
		// forwarder with the codec it sends, rebound by every subscriber.
		muted := f.muted.Load()
		f = p.newTrack(pub, recv, codec)
		f.muted.Store(muted)
		p.room.pokeAll()
	}
	if p.st.published[pub.Alias] != f {
		f.muted.Store(true) // unpublished before its first packet: drained, not forwarded
	}
	f.remote = t
	f.ssrc.Store(uint32(t.SSRC()))
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = f.forward() // ends when the PeerConnection closes
	}()
	if f.kind == webrtc.RTPCodecTypeVideo && len(*f.bindings.Load()) > 0 {
		f.requestKeyframe() // subscribers bound before the first packet start from a keyframe
	}
	p.checkMediaReady()
}

// mediaByMid finds the media section with mid in d.
func mediaByMid(d *sdp.SessionDescription, mid string) *sdp.MediaDescription {
	if d == nil || mid == "" {
		return nil
	}
	for _, md := range d.MediaDescriptions {
		if v, ok := md.Attribute("mid"); ok && v == mid {
			return md
		}
	}
	return nil
}

// mediaSends reports whether the side that wrote md sends on it.
func mediaSends(md *sdp.MediaDescription) bool {
	if md.MediaName.Port.Value == 0 {
		return false // rejected
	}
	for _, a := range md.Attributes {
		switch a.Key {
		case "recvonly", "inactive":
			return false
		case "sendonly", "sendrecv":
			return true
		}
	}
	return true // no direction attribute: sendrecv
}

// payloadTypes lists md's payload types in their order of preference.
func payloadTypes(md *sdp.MediaDescription) []uint8 {
	out := make([]uint8, 0, len(md.MediaName.Formats))
	for _, s := range md.MediaName.Formats {
		if pt, err := strconv.ParseUint(s, 10, 7); err == nil {
			out = append(out, uint8(pt))
		}
	}
	return out
}

// firstMediaCodec is the codec the client will send on md: its first
// payload type that is a media codec (not telephone-event, RTX, RED, FEC
// or comfort noise) among the negotiated codecs.
func firstMediaCodec(md *sdp.MediaDescription, codecs []webrtc.RTPCodecParameters) (webrtc.RTPCodecCapability, bool) {
	for _, pt := range payloadTypes(md) {
		for _, c := range codecs {
			if uint8(c.PayloadType) == pt && isMediaCodec(c.MimeType) {
				return c.RTPCodecCapability, true
			}
		}
	}
	for _, c := range codecs { // payload types renumbered by the client: the first negotiated
		if isMediaCodec(c.MimeType) {
			return c.RTPCodecCapability, true
		}
	}
	return webrtc.RTPCodecCapability{}, false
}

func isMediaCodec(mime string) bool {
	_, sub, _ := strings.Cut(strings.ToLower(mime), "/")
	switch sub {
	case "telephone-event", "rtx", "red", "ulpfec", "flexfec-03", "cn":
		return false
	}
	return sub != ""
}
