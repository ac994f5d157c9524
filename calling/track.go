package calling

import (
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// forwarder is one published track and its subscribers. It implements
// webrtc.TrackLocal, so the same forwarder is added to every subscriber's
// PeerConnection; each Bind adds a binding. The per-packet path (forward)
// loads the bindings from an atomic pointer (copy-on-write, no lock), reuses
// one read buffer, and writes each packet once per binding without copying
// the payload.
type forwarder struct {
	id, streamID string // alias, publisher participant id
	kind         webrtc.RTPCodecType
	codec        webrtc.RTPCodecCapability

	owner *peer
	// remote is the publisher's track, attached when its first packet
	// arrives; forward reads it. The forwarder exists (and subscribers are
	// bound to it) from the negotiation on, before media flows.
	remote   *webrtc.TrackRemote
	ssrc     atomic.Uint32 // the publisher's SSRC, once known (for PLI)
	keyframe func()        // asks the publisher for a keyframe (rate limited)

	rtx *rtxCache // video only: the shared retransmission cache
	// events are the publisher's RFC 4733 telephone-event payload types and
	// their clock rates. Set before forward starts.
	events   eventTypes
	muted    atomic.Bool
	bindings atomic.Pointer[[]*binding]
	mu       sync.Mutex // serialises Bind/Unbind (copy-on-write writers)

	// scratch is the header written to subscribers; only the reader
	// goroutine (forward) touches it, so reusing it needs no lock and keeps
	// the header off the heap.
	scratch rtp.Header

	lastKF atomic.Int64 // unix nanos of the last keyframe request
}

type binding struct {
	id          string
	ssrc        uint32
	payloadType uint8
	events      eventTypes // the subscriber's telephone-event payload types
	writer      webrtc.TrackLocalWriter
	paused      atomic.Bool // hold: nothing forwarded to this subscriber
}

var _ webrtc.TrackLocal = (*forwarder)(nil)

func newForwarder(owner *peer, alias string, kind webrtc.RTPCodecType, codec webrtc.RTPCodecCapability, remote *webrtc.TrackRemote, keyframe func()) *forwarder {
	f := &forwarder{id: alias, streamID: owner.pid, owner: owner, kind: kind, codec: codec, remote: remote, keyframe: keyframe}
	empty := []*binding{}
	f.bindings.Store(&empty)
	if f.kind == webrtc.RTPCodecTypeVideo {
		f.rtx = &rtxCache{}
	}
	return f
}

// Bind implements webrtc.TrackLocal: it picks the subscriber's payload type
// for our codec and adds a binding.
func (f *forwarder) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	return f.bind(ctx, ctx.CodecParameters())
}

// bind adds a binding for ctx choosing among codecs (the codecs the
// subscriber negotiated on this m-line).
func (f *forwarder) bind(ctx webrtc.TrackLocalContext, codecs []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, error) {
	var match *webrtc.RTPCodecParameters
	for _, c := range codecs {
		if !strings.EqualFold(c.MimeType, f.codec.MimeType) {
			continue
		}
		if c.SDPFmtpLine == f.codec.SDPFmtpLine {
			match = &c
			break
		}
		if match == nil {
			cc := c
			match = &cc
		}
	}
	if match == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	b := &binding{id: ctx.ID(), ssrc: uint32(ctx.SSRC()), payloadType: uint8(match.PayloadType), writer: ctx.WriteStream(),
		events: telephoneEvents(codecs)}
	f.mu.Lock()
	old := *f.bindings.Load()
	next := make([]*binding, len(old), len(old)+1)
	copy(next, old)
	next = append(next, b)
	f.bindings.Store(&next)
	f.mu.Unlock()
	if f.kind == webrtc.RTPCodecTypeVideo {
		f.requestKeyframe()
	}
	return *match, nil
}

// Unbind implements webrtc.TrackLocal.
func (f *forwarder) Unbind(ctx webrtc.TrackLocalContext) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := *f.bindings.Load()
	next := make([]*binding, 0, len(old))
	for _, b := range old {
		if b.id != ctx.ID() {
			next = append(next, b)
		}
	}
	f.bindings.Store(&next)
	return nil
}

func (f *forwarder) ID() string                { return f.id }
func (f *forwarder) RID() string               { return "" }
func (f *forwarder) StreamID() string          { return f.streamID }
func (f *forwarder) Kind() webrtc.RTPCodecType { return f.kind }

// requestKeyframe asks the publisher for a keyframe at most every 500 ms.
func (f *forwarder) requestKeyframe() {
	if f.ssrc.Load() == 0 {
		return // no packet yet: the publisher's first frame is a keyframe
	}
	now := time.Now().UnixNano()
	last := f.lastKF.Load()
	if now-last < int64(500*time.Millisecond) || !f.lastKF.CompareAndSwap(last, now) {
		return
	}
	if f.keyframe != nil {
		f.keyframe()
	}
}

// forward reads the publisher's RTP until the track ends and writes each
// packet to every binding. It is the per-packet path: no lock, no
// allocation per packet, no logging.
func (f *forwarder) forward() error {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		n, _, err := f.remote.Read(buf)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		if f.rtx != nil {
			f.rtx.put(pkt.SequenceNumber, buf[:n])
		}
		f.writePacket(&pkt)
	}
}

func (f *forwarder) writePacket(pkt *rtp.Packet) {
	if f.muted.Load() || len(pkt.Payload) == 0 { // padding-only probes are for the publisher's link
		return
	}
	// The publisher's header extensions carry ids negotiated with the
	// publisher, not the subscriber: forward none.
	h := &f.scratch
	*h = pkt.Header
	h.Extension = false
	h.Extensions = nil
	h.ExtensionProfile = 0
	h.Padding, h.PaddingSize = false, 0    // the payload is forwarded without its padding
	rate := f.events.rate(pkt.PayloadType) // 0: not a telephone event
	for _, b := range *f.bindings.Load() {
		if b.paused.Load() {
			continue
		}
		h.SSRC = b.ssrc
		h.PayloadType = b.payloadType
		if rate != 0 { // DTMF: the subscriber's telephone-event type at that rate, or nothing
			pt := b.events.payloadType(rate)
			if pt == 0 {
				continue
			}
			h.PayloadType = pt
		}
		_, _ = b.writer.WriteRTP(h, pkt.Payload) // a failing subscriber does not stop the others
	}
}

// readSenderRTCP drains a subscriber's RTCP for this track (so the report
// interceptors run), turns PLI/FIR into keyframe requests and answers NACKs
// from the shared cache. It ends when the sender is stopped.
func (f *forwarder) readSenderRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	pktBuf := make([]byte, 1500)
	var hdr rtp.Header
	var b *binding
	for {
		n, _, err := s.Read(buf)
		if err != nil {
			return
		}
		if f.kind != webrtc.RTPCodecTypeVideo {
			continue
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				f.requestKeyframe()
			case *rtcp.TransportLayerNack:
				if b == nil || b.ssrc != p.MediaSSRC {
					b = f.bindingBySSRC(p.MediaSSRC)
				}
				if b != nil {
					f.retransmit(b, p, pktBuf, &hdr)
				}
			}
		}
	}
}

func (f *forwarder) bindingBySSRC(ssrc uint32) *binding {
	for _, b := range *f.bindings.Load() {
		if b.ssrc == ssrc {
			return b
		}
	}
	return nil
}

// maxEventTypes bounds the telephone-event payload types kept per side
// (browsers negotiate one or two: 8 kHz and 48 kHz).
const maxEventTypes = 4

// eventTypes are the RFC 4733 telephone-event payload types negotiated on
// one side, with their clock rates: a fixed array, so the per-packet lookup
// neither allocates nor locks.
type eventTypes struct {
	n     int
	pt    [maxEventTypes]uint8
	rates [maxEventTypes]uint32
}

// rate is the clock rate of telephone-event payload type pt (0: pt is not
// a telephone event).
func (e *eventTypes) rate(pt uint8) uint32 {
	for i := 0; i < e.n; i++ {
		if e.pt[i] == pt {
			return e.rates[i]
		}
	}
	return 0
}

// payloadType is the telephone-event payload type at clock rate (0: none).
func (e *eventTypes) payloadType(rate uint32) uint8 {
	for i := 0; i < e.n; i++ {
		if e.rates[i] == rate {
			return e.pt[i]
		}
	}
	return 0
}

// telephoneEvents collects the telephone-event payload types among codecs
// (the first of each clock rate, at most maxEventTypes).
func telephoneEvents(codecs []webrtc.RTPCodecParameters) eventTypes {
	var e eventTypes
	for _, c := range codecs {
		if !isTelephoneEvent(c.MimeType) || e.n == maxEventTypes || e.payloadType(c.ClockRate) != 0 || c.ClockRate == 0 {
			continue
		}
		e.pt[e.n], e.rates[e.n] = uint8(c.PayloadType), c.ClockRate
		e.n++
	}
	return e
}

func isTelephoneEvent(mime string) bool {
	return strings.EqualFold(mime, "audio/telephone-event")
}
