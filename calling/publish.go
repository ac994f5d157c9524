package calling

import (
	"context"
	"strconv"
	"strings"

	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/calling/sfu"
)

// A published track exists from the negotiation on: once the publisher's
// answer fixes the codec of a receiving m-line, the track is in the room
// and subscribers are offered it, before its first packet. When the first
// packet arrives (OnTrack) the track starts forwarding the publisher's
// TrackRemote, so no packet is lost to subscribers that are already bound.

// newTrack makes the track of publication pub received on recv, puts it in
// the room and hands it to the TrackObserver. The caller reports the
// streams. Nil if codec is neither audio nor video.
func (p *peer) newTrack(pub protocol.Publication, recv *webrtc.RTPReceiver, codec webrtc.RTPCodecParameters) *pubTrack {
	pc := p.st.pc
	t, err := sfu.NewTrack(sfu.TrackConfig{
		ID: pub.Alias, StreamID: p.pid, Codec: codec, Negotiated: recv.GetParameters().Codecs,
		Keyframe: func(ssrc uint32) {
			_ = pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
		},
		Muted: p.st.mutes[pub.Alias], // announced muted, or muted before its media
		Clock: p.srv.clock,
		Batch: p.srv.batch,
	})
	if err != nil {
		p.log.Warn("publish", "track", pub.Alias, "codec", codec.MimeType, "err", err)
		return nil
	}
	pt := &pubTrack{Track: t, owner: p, alias: pub.Alias}
	p.srv.stats.trackPublished(t) // until pt.close
	pt.info = PublishedTrack{
		Account: p.claims.Account, SessionID: p.room.key.session, ParticipantID: p.pid, Identity: p.identity,
		StreamAlias: pt.alias, Kind: pt.Kind(), Codec: pt.Codec(), Track: pt.Track,
	}
	if p.call != nil {
		pt.info.CallID = p.call.ID
	}
	if p.srv.cfg.TrackObserver != nil || p.srv.cfg.Recorder != nil {
		// Not derived from the server's context: it ends only after the
		// track is closed, also when the server shuts down (every peer
		// leaves its session).
		pt.ctx, pt.stop = context.WithCancel(context.Background())
	}
	p.st.fwd[recv] = pt
	p.st.published[pub.Alias] = pt
	p.room.publish(trackKey{p.pid, pub.Alias}, pt)
	p.observe(pt)
	p.measureUplink(pt)
	p.srv.recordTrack(p.room.key, pt) // on the loop, before the first packet
	return pt
}

// observe hands pt to Config.TrackObserver on a goroutine of the server's,
// with a context that pt.close ends.
func (p *peer) observe(pt *pubTrack) {
	obs := p.srv.cfg.TrackObserver
	if obs == nil {
		return
	}
	ctx, info := pt.ctx, pt.info
	p.srv.wg.Add(1)
	go func() {
		defer p.srv.wg.Done()
		obs.TrackPublished(ctx, info)
	}()
}

// announceTracks makes the tracks of the receiving m-lines the
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
		if p.newTrack(pub, recv, codec) != nil {
			added = true
		}
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
	codec := t.Codec()
	firstIsMedia := isMediaCodec(codec.MimeType)
	if !firstIsMedia {
		for _, c := range recv.GetParameters().Codecs {
			if isMediaCodec(c.MimeType) {
				codec = c
				break
			}
		}
	}
	f := p.st.fwd[recv]
	switch {
	case f == nil: // not seen in an answer: announce it now
		if f = p.newTrack(pub, recv, codec); f == nil {
			return
		}
		p.reportStreams()
	case f.forwarding:
		return // already attached
	case firstIsMedia && p.st.published[pub.Alias] == f &&
		(!strings.EqualFold(f.Codec().MimeType, codec.MimeType) || f.Codec().SDPFmtpLine != codec.SDPFmtpLine):
		// The client sends another codec than its answer put first: a new
		// track with the codec it sends, rebound by every subscriber.
		old := f
		if f = p.newTrack(pub, recv, codec); f == nil {
			return
		}
		f.SetMuted(old.Muted())
		if f.Muted() {
			f.stopUplink(false)
		}
		old.close()
		p.room.pokeAll()
	}
	if p.st.published[pub.Alias] != f {
		f.close() // unpublished before its first packet: drained, not forwarded
	}
	f.forwarding = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = f.Forward(t) // ends when the PeerConnection closes; a video track asks for a keyframe if it has receivers
		f.close()
	}()
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
func firstMediaCodec(md *sdp.MediaDescription, codecs []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	for _, pt := range payloadTypes(md) {
		for _, c := range codecs {
			if uint8(c.PayloadType) == pt && isMediaCodec(c.MimeType) {
				return c, true
			}
		}
	}
	for _, c := range codecs { // payload types renumbered by the client: the first negotiated
		if isMediaCodec(c.MimeType) {
			return c, true
		}
	}
	return webrtc.RTPCodecParameters{}, false
}

func isMediaCodec(mime string) bool {
	_, sub, _ := strings.Cut(strings.ToLower(mime), "/")
	switch sub {
	case "telephone-event", "rtx", "red", "ulpfec", "flexfec-03", "cn":
		return false
	}
	return sub != ""
}
