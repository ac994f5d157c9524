package sfu

import (
	"cmp"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Source is the publisher's side of a Track, read by Forward: a
// *webrtc.TrackRemote.
type Source interface {
	SSRC() webrtc.SSRC
	Read(b []byte) (n int, attributes interceptor.Attributes, err error)
}

// RTCPReader is one subscriber's sender of a Track, read by ReadRTCP: a
// *webrtc.RTPSender.
type RTCPReader interface {
	Read(b []byte) (n int, attributes interceptor.Attributes, err error)
}

// state bits of a Track.
const (
	stateMuted uint32 = 1 << iota
	stateClosed
)

// Track is one published track and everything that receives it: the
// PeerConnection subscribers it is bound to (it implements
// webrtc.TrackLocal, so the same Track is added to every subscriber's
// PeerConnection and each Bind adds a binding) and the attached Sinks.
// Forward reads the publisher and writes each packet to every binding, then
// queues it for the sinks; see the package documentation for the
// per-packet contract. A video track keeps one retransmission cache shared
// by its subscribers and answers their NACKs from it (ReadRTCP).
//
// A Track is safe for concurrent use.
type Track struct {
	id, streamID string
	kind         webrtc.RTPCodecType
	codec        webrtc.RTPCodecParameters
	teleEvents   []webrtc.RTPCodecParameters // the publisher's telephone-event codecs
	events       eventTypes                  // the same, for the per-packet lookup
	keyframe     func(ssrc uint32)
	kfInterval   int64 // nanoseconds
	clock        Clock
	batch        Batcher // nil: none
	sinkQueueLen int
	rtx          *rtxCache // video only: the shared retransmission cache

	ctx    context.Context // ends with Close; the sink goroutine's
	cancel context.CancelFunc

	state    atomic.Uint32 // stateMuted | stateClosed
	ssrc     atomic.Uint32 // the publisher's SSRC, once Forward runs
	lastKF   atomic.Int64  // unix nanos of the last keyframe request
	started  atomic.Bool   // Forward has been called
	bindings atomic.Pointer[[]*binding]
	sinks    atomic.Pointer[[]*attachment]
	probes   atomic.Pointer[[]*attachment] // Observe's: called on the reader goroutine
	sinkQ    atomic.Pointer[sinkQueue]     // the queue while a sink is attached, else nil

	mu     sync.Mutex // serialises the copy-on-write writers of bindings and sinks, and Close
	queue  *sinkQueue // made at the first Attach; mu
	closed bool       // mu

	// scratch is the header written to subscribers; only the reader
	// goroutine (Forward) touches it, so reusing it needs no lock and keeps
	// the header off the heap.
	scratch rtp.Header

	counters trackCounters // Stats
}

var _ webrtc.TrackLocal = (*Track)(nil)

// NewTrack returns a Track for the publisher's codec in cfg. It forwards
// nothing until Forward is given the publisher's track.
func NewTrack(cfg TrackConfig) (*Track, error) {
	var kind webrtc.RTPCodecType
	switch top, _, _ := strings.Cut(strings.ToLower(cfg.Codec.MimeType), "/"); top {
	case "audio":
		kind = webrtc.RTPCodecTypeAudio
	case "video":
		kind = webrtc.RTPCodecTypeVideo
	default:
		return nil, ErrCodec
	}
	t := &Track{
		id: cfg.ID, streamID: cfg.StreamID, kind: kind, codec: cfg.Codec,
		events: telephoneEvents(cfg.Negotiated), keyframe: cfg.Keyframe,
		kfInterval: int64(cmp.Or(cfg.KeyframeInterval, DefaultKeyframeInterval)),
		clock:      cmp.Or[Clock](cfg.Clock, realClock{}),
		batch:      cfg.Batch,
	}
	for _, c := range cfg.Negotiated {
		if isTelephoneEvent(c.MimeType) && t.events.rate(uint8(c.PayloadType)) != 0 {
			t.teleEvents = append(t.teleEvents, c)
		}
	}
	t.sinkQueueLen = DefaultAudioSinkQueue
	if kind == webrtc.RTPCodecTypeVideo {
		t.sinkQueueLen = DefaultVideoSinkQueue
		t.rtx = &rtxCache{}
	}
	t.sinkQueueLen = cmp.Or(cfg.SinkQueue, t.sinkQueueLen)
	t.ctx, t.cancel = context.WithCancel(context.Background())
	noBindings, noSinks := []*binding{}, []*attachment{}
	t.bindings.Store(&noBindings)
	t.sinks.Store(&noSinks)
	noProbes := []*attachment{}
	t.probes.Store(&noProbes)
	if cfg.Muted {
		t.state.Store(stateMuted)
	}
	return t, nil
}

// ID implements webrtc.TrackLocal: TrackConfig.ID.
func (t *Track) ID() string { return t.id }

// RID implements webrtc.TrackLocal: "" (no simulcast).
func (t *Track) RID() string { return "" }

// StreamID implements webrtc.TrackLocal: TrackConfig.StreamID.
func (t *Track) StreamID() string { return t.streamID }

// Kind implements webrtc.TrackLocal: audio or video, from the codec.
func (t *Track) Kind() webrtc.RTPCodecType { return t.kind }

// Codec is the publisher's media codec, with the payload type it sends.
func (t *Track) Codec() webrtc.RTPCodecParameters { return t.codec }

// TelephoneEvents are the publisher's RFC 4733 telephone-event codecs (one
// per clock rate), whose payload types a sink may see beside Codec's.
func (t *Track) TelephoneEvents() []webrtc.RTPCodecParameters { return slices.Clone(t.teleEvents) }

// SSRC is the publisher's SSRC, as sinks see it; 0 until Forward runs.
func (t *Track) SSRC() uint32 { return t.ssrc.Load() }

// Muted reports whether the track is muted.
func (t *Track) Muted() bool { return t.state.Load()&stateMuted != 0 }

// SetMuted mutes or unmutes the track: while muted, nothing is forwarded to
// subscribers or sinks (the publisher's packets are read and dropped).
func (t *Track) SetMuted(muted bool) {
	if muted {
		t.state.Or(stateMuted)
	} else {
		t.state.And(^stateMuted)
	}
}

// Done is closed when the track is closed (Close, or the end of Forward).
func (t *Track) Done() <-chan struct{} { return t.ctx.Done() }

// Close ends the track: nothing more is forwarded, every sink is detached
// (without waiting for a call in flight) and the sink goroutine ends.
// Forward keeps reading (and dropping) the publisher's packets until its
// source ends. Close does not block; calling it again does nothing.
func (t *Track) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	t.state.Or(stateClosed)
	for _, a := range *t.sinks.Load() {
		a.gone.Store(true)
	}
	for _, a := range *t.probes.Load() {
		a.gone.Store(true)
	}
	noSinks, noProbes := []*attachment{}, []*attachment{}
	t.sinks.Store(&noSinks)
	t.probes.Store(&noProbes)
	t.sinkQ.Store(nil)
	t.cancel()
}

// Dropped counts the packets the sinks missed because the sink queue was
// full (a sink too slow).
func (t *Track) Dropped() uint64 {
	t.mu.Lock()
	q := t.queue
	t.mu.Unlock()
	if q == nil {
		return 0
	}
	return q.dropped.Load()
}

// Attach adds a sink: from now on it receives every packet the track
// forwards, as Sink documents, until detach is called, the sink returns an
// error, or the track is closed. Attaching to a video track asks the
// publisher for a keyframe. detach stops the calls and waits for a call in
// flight, so after it returns the sink is not called again; it must not be
// called from the sink's own WriteRTP (that deadlocks: return an error
// instead). Calling detach again does nothing. Attaching to a closed track
// returns ErrClosed.
func (t *Track) Attach(s Sink) (detach func(), err error) {
	a := &attachment{sink: s}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, ErrClosed
	}
	if t.queue == nil {
		t.queue = newSinkQueue(t.sinkQueueLen)
		go t.queue.run(t) // ends with t.ctx (Close)
	}
	next := with(*t.sinks.Load(), a)
	t.sinks.Store(&next)
	t.sinkQ.Store(t.queue)
	t.mu.Unlock()
	t.RequestKeyframe()
	return func() {
		t.remove(a)
		a.detach()
	}, nil
}

// remove drops a from the sinks.
func (t *Track) remove(a *attachment) {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := without(*t.sinks.Load(), a)
	t.sinks.Store(&next)
	if len(next) == 0 {
		t.sinkQ.Store(nil)
	}
}

// dropProbe removes a probe that failed.
func (t *Track) dropProbe(a *attachment) {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := without(*t.probes.Load(), a)
	t.probes.Store(&next)
}

// without returns a copy of list without a.
// with returns a copy of list with a appended (the readers keep the old one).
func with(list []*attachment, a *attachment) []*attachment {
	return append(slices.Clone(list), a) // the clone is ours: appending cannot touch list
}

func without(list []*attachment, a *attachment) []*attachment {
	next := make([]*attachment, 0, len(list))
	for _, x := range list {
		if x != a {
			next = append(next, x)
		}
	}
	return next
}

// Observe attaches a probe: a Sink called on the track's reader goroutine,
// right after each packet is written to the PeerConnection subscribers,
// with no queue, no copy and no goroutine of its own. It sees what an
// attached Sink sees (the same packets, the publisher's header without
// extensions or padding, the payload valid only during the call), but it
// runs on the per-packet path: WriteRTP must return at once (update a few
// counters under an uncontended lock at most; no I/O, no channel send that
// can wait, no allocation per packet), or it delays every subscriber of the
// track. A quality probe that reads sequence numbers and timestamps is the
// use; a recorder or anything that may wait takes Attach. A probe that
// returns an error is detached. detach stops the calls and waits for a call
// in flight; it must not be called from the probe's own WriteRTP. Observing
// a closed track returns ErrClosed.
func (t *Track) Observe(s Sink) (detach func(), err error) {
	a := &attachment{sink: s}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, ErrClosed
	}
	next := with(*t.probes.Load(), a)
	t.probes.Store(&next)
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		next := without(*t.probes.Load(), a)
		t.probes.Store(&next)
		t.mu.Unlock()
		a.detach()
	}, nil
}

// Bind implements webrtc.TrackLocal: it picks the subscriber's payload type
// for the track's codec and adds a binding.
func (t *Track) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	return t.BindCodecs(ctx, ctx.CodecParameters())
}

// BindCodecs is Bind choosing among codecs rather than all of
// ctx.CodecParameters(): the codecs the subscriber accepted on this m-line.
// It prefers the codec with the publisher's MIME type and fmtp line, then
// the first with its MIME type; ErrUnsupportedCodec if there is none.
func (t *Track) BindCodecs(ctx webrtc.TrackLocalContext, codecs []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, error) {
	var match *webrtc.RTPCodecParameters
	for _, c := range codecs {
		if !strings.EqualFold(c.MimeType, t.codec.MimeType) {
			continue
		}
		if c.SDPFmtpLine == t.codec.SDPFmtpLine {
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
	t.mu.Lock()
	old := *t.bindings.Load()
	next := make([]*binding, len(old), len(old)+1)
	copy(next, old)
	next = append(next, b)
	t.bindings.Store(&next)
	t.mu.Unlock()
	t.RequestKeyframe()
	return *match, nil
}

// Unbind implements webrtc.TrackLocal.
func (t *Track) Unbind(ctx webrtc.TrackLocalContext) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.bindings.Load()
	next := make([]*binding, 0, len(old))
	for _, b := range old {
		if b.id != ctx.ID() {
			next = append(next, b)
		}
	}
	t.bindings.Store(&next)
	return nil
}

// RequestKeyframe asks the publisher of a video track for a keyframe, at
// most once per KeyframeInterval; on an audio track, on a closed one, and
// before Forward has the publisher's SSRC (its first frame is a keyframe),
// it does nothing.
func (t *Track) RequestKeyframe() {
	if t.kind != webrtc.RTPCodecTypeVideo || t.ssrc.Load() == 0 || t.keyframe == nil || t.state.Load()&stateClosed != 0 {
		return
	}
	now := t.clock.Now().UnixNano()
	last := t.lastKF.Load()
	if now-last < t.kfInterval || !t.lastKF.CompareAndSwap(last, now) {
		return
	}
	t.keyframe(t.ssrc.Load())
}

// Forward reads the publisher's packets from src and forwards each until
// src ends (io.EOF: it returns nil) or fails; then it closes the track. It
// is the track's reader goroutine, the per-packet path: no lock, no
// allocation, no logging per packet. A track has one source: calling
// Forward again returns ErrForwarding.
func (t *Track) Forward(src Source) error {
	if !t.started.CompareAndSwap(false, true) {
		return ErrForwarding
	}
	defer t.Close()
	t.ssrc.Store(uint32(src.SSRC()))
	if len(*t.bindings.Load()) > 0 || t.sinkQ.Load() != nil {
		t.RequestKeyframe() // receivers bound before the first packet start from a keyframe
	}
	buf := make([]byte, maxPacket)
	var pkt rtp.Packet
	for {
		n, _, err := src.Read(buf)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		if t.rtx != nil {
			t.rtx.put(pkt.SequenceNumber, buf[:n])
		}
		t.writePacket(&pkt)
	}
}

// writePacket writes pkt to every binding, then queues it for the sinks.
func (t *Track) writePacket(pkt *rtp.Packet) {
	if t.state.Load() != 0 || len(pkt.Payload) == 0 { // muted or closed; padding-only probes are for the publisher's link
		return
	}
	// The publisher's header extensions carry ids negotiated with the
	// publisher, not the subscriber: forward none.
	h := &t.scratch
	*h = pkt.Header
	h.Extension = false
	h.Extensions = nil
	h.ExtensionProfile = 0
	h.Padding, h.PaddingSize = false, 0    // the payload is forwarded without its padding
	rate := t.events.rate(pkt.PayloadType) // 0: not a telephone event
	written := 0
	bindings := *t.bindings.Load()
	if t.batch != nil && len(bindings) > 1 {
		t.batch.Begin()
		defer t.batch.End()
	}
	for _, b := range bindings {
		h.SSRC = b.ssrc
		h.PayloadType = b.payloadType
		if rate != 0 { // DTMF: the subscriber's telephone-event type at that rate, or nothing
			pt := b.events.payloadType(rate)
			if pt == 0 {
				continue
			}
			h.PayloadType = pt
		}
		if _, err := b.writer.WriteRTP(h, pkt.Payload); err == nil { // a failing subscriber does not stop the others
			written++
		}
	}
	t.counters.countForward(written, len(pkt.Payload))
	if probes := *t.probes.Load(); len(probes) > 0 {
		h.SSRC, h.PayloadType = pkt.SSRC, pkt.PayloadType // the publisher's, as sinks see them
		for _, a := range probes {
			if a.write(h, pkt.Payload) {
				t.dropProbe(a)
			}
		}
	}
	if q := t.sinkQ.Load(); q != nil {
		q.push(&pkt.Header, pkt.Payload)
	}
}

// ReadRTCP reads one subscriber's RTCP for this track until r ends (its
// sender stops): it drains it (so the sender's interceptors run), turns
// PLI and FIR into keyframe requests and answers NACKs from the shared
// retransmission cache. Run it on a goroutine per subscriber. It is
// ReadRTCPTo without a report sink.
func (t *Track) ReadRTCP(r RTCPReader) { t.ReadRTCPTo(r, nil) }

// ReadRTCPTo is ReadRTCP that also hands the subscriber's reports to
// reports (nil: none); see Feedback. It is a loop around a Feedback's
// HandleRTCP: where the RTCP can be had without a reader per sender (a
// pion BufferFactory that sees the decrypted packets), use a Feedback.
func (t *Track) ReadRTCPTo(r RTCPReader, reports RTCPSink) {
	f := t.NewFeedback(reports)
	buf := make([]byte, maxPacket)
	for {
		n, _, err := r.Read(buf)
		if err != nil {
			return
		}
		f.HandleRTCP(buf[:n])
	}
}

// Feedback acts on the RTCP one subscriber sends about this track: PLI and
// FIR become keyframe requests (at most one per TrackConfig.KeyframeInterval),
// NACKs are answered from the shared retransmission cache (video), and
// every packet holding a sender or receiver report goes to the RTCPSink
// given to NewFeedback, as rtcp.Unmarshal parsed it (the reports' blocks
// are about the streams the subscriber receives: this track's, with the
// subscriber's SSRC, and possibly others of its PeerConnection). The sink
// is called on the caller's goroutine, one packet at a time; it must not
// block or keep pkts. A sink that returns an error is not called again.
//
// A Feedback is not safe for concurrent use: one goroutine at a time calls
// HandleRTCP.
type Feedback struct {
	t       *Track
	reports RTCPSink
	video   bool
	b       *binding // the binding of the last NACK's SSRC
	hdr     rtp.Header
	buf     []byte // retransmissions; made at the first NACK
}

// NewFeedback returns the handler of one subscriber's RTCP for this track.
func (t *Track) NewFeedback(reports RTCPSink) *Feedback {
	return &Feedback{t: t, reports: reports, video: t.kind == webrtc.RTPCodecTypeVideo}
}

// HandleRTCP acts on raw, one RTCP packet or compound packet as the
// subscriber sent it (decrypted). Audio without a report sink has nothing
// to act on, and raw is not even parsed.
func (f *Feedback) HandleRTCP(raw []byte) {
	if !f.video && f.reports == nil {
		return
	}
	pkts, err := rtcp.Unmarshal(raw)
	if err != nil {
		return
	}
	t := f.t
	hasReport := false
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.ReceiverReport, *rtcp.SenderReport:
			hasReport = true
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			if f.video {
				t.RequestKeyframe()
			}
		case *rtcp.TransportLayerNack:
			if !f.video {
				continue
			}
			if f.b == nil || f.b.ssrc != p.MediaSSRC {
				f.b = t.bindingBySSRC(p.MediaSSRC)
			}
			if f.b != nil {
				if f.buf == nil {
					f.buf = make([]byte, maxPacket)
				}
				t.retransmit(f.b, p, f.buf, &f.hdr)
			}
		}
	}
	if hasReport && f.reports != nil && f.reports.WriteRTCP(pkts) != nil {
		f.reports = nil
	}
}

// retransmit answers b's NACK from the cache unless the track is muted or
// closed, and returns how many packets it sent.
func (t *Track) retransmit(b *binding, nack *rtcp.TransportLayerNack, buf []byte, hdr *rtp.Header) int {
	if t.rtx == nil || t.state.Load() != 0 {
		return 0
	}
	if t.batch != nil {
		t.batch.Begin()
		defer t.batch.End()
	}
	sent := b.retransmit(t.rtx, nack, buf, hdr)
	t.counters.countNACK(nack, sent)
	return sent
}

func (t *Track) bindingBySSRC(ssrc uint32) *binding {
	for _, b := range *t.bindings.Load() {
		if b.ssrc == ssrc {
			return b
		}
	}
	return nil
}
