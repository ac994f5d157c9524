package calling

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/calling/sfu"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// outTrack is one forwarded track as one subscriber's PeerConnection sees
// it: the shared sfu.Track on one sendonly transceiver (m-line) of the
// subscriber. Its fields are owned by the subscriber's loop, which is also
// where pion calls Bind (inside SetRemoteDescription).
type outTrack struct {
	t    *sfu.Track
	tr   *webrtc.RTPTransceiver
	ssrc uint32 // the sender's, when its RTCP goes through the peer's feedback (0: a reader goroutine)
	// payloadTypes are the payload types the subscriber's last answer
	// accepted on this m-line (nil: not known; every codec of ctx counts).
	// A sender made for a reused m-line carries the API's codecs, not the
	// negotiated ones; this narrows them, so telephone events go only where
	// the subscriber negotiated them.
	payloadTypes []uint8
}

var _ webrtc.TrackLocal = (*outTrack)(nil)

// Bind implements webrtc.TrackLocal.
func (o *outTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codecs := ctx.CodecParameters()
	if o.payloadTypes != nil {
		kept := make([]webrtc.RTPCodecParameters, 0, len(codecs))
		for _, c := range codecs {
			if slices.Contains(o.payloadTypes, uint8(c.PayloadType)) {
				kept = append(kept, c)
			}
		}
		codecs = kept
	}
	return o.t.BindCodecs(ctx, codecs)
}

// Unbind implements webrtc.TrackLocal.
func (o *outTrack) Unbind(ctx webrtc.TrackLocalContext) error { return o.t.Unbind(ctx) }

func (o *outTrack) ID() string                { return o.t.ID() }
func (o *outTrack) RID() string               { return "" }
func (o *outTrack) StreamID() string          { return o.t.StreamID() }
func (o *outTrack) Kind() webrtc.RTPCodecType { return o.t.Kind() }

// spareTransceiver is a sendonly m-line whose track is gone. It is offered
// inactive once; after that offer is answered it carries the next track of
// its kind, so a subscriber has one m-line per track it receives now (plus
// the few freed in the last round), however many have come and gone. The
// inactive round lets browsers fire ontrack again when the m-line is reused.
type spareTransceiver struct {
	tr      *webrtc.RTPTransceiver
	freedAt int // p.st.offers when it was freed
}

// sync makes the peer's senders match what rooms says it receives.
func (p *peer) sync() {
	if p.room == nil || p.st.pc == nil {
		return
	}
	want := map[trackKey]*sfu.Track{}
	refs, err := p.srv.cfg.Rooms.Receives(p.ctx, p.claims.Account, p.room.key.session, p.pid)
	if err != nil {
		switch {
		case p.call != nil: // the call's end takes the peer out of its session
		case errors.Is(err, rooms.ErrNotMember):
			p.fail(protocol.CloseSessionEnded, "removed from the session")
		case errors.Is(err, rooms.ErrNotFound):
			p.fail(protocol.CloseSessionEnded, "session ended")
		}
		return
	}
	for _, ref := range refs {
		k := trackKey{ref.ParticipantID, ref.Alias}
		if pt := p.room.track(k); pt != nil {
			want[k] = pt.Track
		}
	}
	changed := false
	for k, o := range p.st.senders {
		if t, ok := want[k]; ok && o.t == t {
			continue
		}
		delete(p.st.senders, k)
		changed = true
		if p.st.feedback != nil && o.ssrc != 0 {
			p.st.feedback.remove(o.ssrc)
		}
		if s := o.tr.Sender(); s != nil {
			if err := p.st.pc.RemoveTrack(s); err != nil { // the m-line goes inactive
				continue
			}
		}
		p.st.spare = append(p.st.spare, spareTransceiver{tr: o.tr, freedAt: p.st.offers})
	}
	keys := make([]trackKey, 0, len(want))
	for k := range want {
		if _, ok := p.st.senders[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b trackKey) int { // a stable m-line order
		if c := strings.Compare(a.participant, b.participant); c != 0 {
			return c
		}
		return strings.Compare(a.alias, b.alias)
	})
	for _, k := range keys {
		t := want[k]
		o := &outTrack{t: t}
		if err := p.addSender(o); err != nil {
			p.log.Warn("add track", "track", k.alias, "from", k.participant, "err", err)
			continue
		}
		p.st.senders[k] = o
		s := o.tr.Sender()
		reports, stop := p.measureDownlink(k, t, s)
		if fb := p.st.feedback; fb != nil && s != nil {
			if enc := s.GetParameters().Encodings; len(enc) > 0 {
				o.ssrc = uint32(enc[0].SSRC)
				fb.add(o.ssrc, t.NewFeedback(reports), stop)
				changed = true
				continue
			}
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			t.ReadRTCPTo(s, reports) // ends when the sender stops
			if stop != nil {
				stop()
			}
		}()
		changed = true
	}
	if changed {
		p.negotiate()
	}
}

// addSender puts o on a spare m-line of its kind that has been offered
// inactive and answered, or on a new sendonly transceiver of its own.
func (p *peer) addSender(o *outTrack) error {
	for i, s := range p.st.spare {
		if s.tr.Kind() != o.Kind() || s.freedAt >= p.st.answered {
			continue
		}
		tr, err := p.reuse(s.tr, o)
		if err != nil {
			return err
		}
		p.st.spare = slices.Delete(p.st.spare, i, i+1)
		o.tr = tr
		return nil
	}
	tr, err := p.st.pc.AddTransceiverFromTrack(o, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return err
	}
	o.tr = tr
	return nil
}

// reuse gives spare (inactive, without a sender) a sender for o. Only
// pion's AddTrack makes a sender that runs through the PeerConnection's
// interceptors (RTCP sender reports, statistics), and it takes the first
// transceiver of the kind that has no sender and has not been sending: the
// spare, or one of this peer's own receiving transceivers. Those are
// masked for the call with a placeholder sender, removed right after
// (their direction is restored; nothing is negotiated in between).
func (p *peer) reuse(spare *webrtc.RTPTransceiver, o *outTrack) (*webrtc.RTPTransceiver, error) {
	pc := p.st.pc
	var masks []*webrtc.RTPSender
	defer func() {
		for _, m := range masks {
			_ = pc.RemoveTrack(m)
		}
	}()
	for _, tr := range pc.GetTransceivers() {
		if tr == spare || tr.Kind() != o.Kind() || tr.Sender() != nil || tr.Receiver() == nil {
			continue
		}
		if _, mine := p.st.recv[tr.Receiver()]; !mine {
			continue
		}
		m, err := p.srv.api.NewRTPSender(placeholder{o.Kind()}, pc.SCTP().Transport())
		if err != nil {
			return nil, err
		}
		if err := tr.SetSender(m, placeholder{o.Kind()}); err != nil {
			return nil, err
		}
		masks = append(masks, m)
	}
	sender, err := pc.AddTrack(o)
	if err != nil {
		return nil, err
	}
	for _, tr := range pc.GetTransceivers() {
		if tr.Sender() == sender {
			return tr, nil
		}
	}
	return nil, errors.New("calling: the reused transceiver is gone")
}

// placeholder is a track that is never sent: it only masks a transceiver
// while pion's AddTrack chooses one.
type placeholder struct{ kind webrtc.RTPCodecType }

func (placeholder) Bind(webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}
func (placeholder) Unbind(webrtc.TrackLocalContext) error { return nil }
func (placeholder) ID() string                            { return "placeholder" }
func (placeholder) RID() string                           { return "" }
func (placeholder) StreamID() string                      { return "placeholder" }
func (t placeholder) Kind() webrtc.RTPCodecType           { return t.kind }

// offeredTracks lists which m-line carries which forwarded track, for the
// offer message (mids are assigned once the offer is made).
func (p *peer) offeredTracks() []protocol.TrackInfo {
	out := make([]protocol.TrackInfo, 0, len(p.st.senders))
	for k, o := range p.st.senders {
		if mid := o.tr.Mid(); mid != "" {
			out = append(out, protocol.TrackInfo{Mid: mid, ParticipantID: k.participant, StreamAlias: k.alias, Kind: o.Kind().String()})
		}
	}
	slices.SortFunc(out, func(a, b protocol.TrackInfo) int {
		x, errA := strconv.Atoi(a.Mid)
		y, errB := strconv.Atoi(b.Mid)
		if errA == nil && errB == nil {
			return x - y
		}
		return strings.Compare(a.Mid, b.Mid)
	})
	return out
}
