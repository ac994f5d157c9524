package calling

import (
	"bytes"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

type capturingWriter struct {
	hdrs     []rtp.Header
	payloads [][]byte
}

func (w *capturingWriter) WriteRTP(h *rtp.Header, p []byte) (int, error) {
	w.hdrs = append(w.hdrs, *h)
	w.payloads = append(w.payloads, append([]byte(nil), p...))
	return len(p), nil
}
func (w *capturingWriter) Write(b []byte) (int, error) { return len(b), nil }

type vp8Ctx struct{ fakeCtx }

func (c vp8Ctx) CodecParameters() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}}
}

// A NACK is answered from the one shared cache, to the asking subscriber
// only, with its SSRC and payload type and the original payload.
func TestRetransmitFromSharedCache(t *testing.T) {
	f := &forwarder{kind: webrtc.RTPCodecTypeVideo, codec: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, rtx: &rtxCache{}}
	empty := []*binding{}
	f.bindings.Store(&empty)
	w1, w2 := &capturingWriter{}, &capturingWriter{}
	_, _ = f.Bind(vp8Ctx{fakeCtx{id: "1", w: w1}})
	_, _ = f.Bind(vp8Ctx{fakeCtx{id: "2", w: w2}})
	for seq := uint16(65530); seq != 10; seq++ { // across the wrap
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 100, SequenceNumber: seq, SSRC: 7}, Payload: []byte{byte(seq), 1, 2, 3}}
		raw, _ := p.Marshal()
		f.rtx.put(seq, raw)
		f.writePacket(&p)
	}
	b1 := f.bindingBySSRC(1234) // both fake bindings share SSRC 1234; the first is w1's
	w1.hdrs, w1.payloads = nil, nil
	n := len(w2.hdrs)
	nack := &rtcp.TransportLayerNack{MediaSSRC: 1234, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{65534, 2, 9})}
	var hdr rtp.Header
	if sent := f.retransmit(b1, nack, make([]byte, 1500), &hdr); sent != 3 {
		t.Fatalf("retransmitted %d, want 3", sent)
	}
	if len(w2.hdrs) != n {
		t.Fatal("another subscriber got the retransmission")
	}
	for i, seq := range []uint16{65534, 2, 9} {
		h := w1.hdrs[i]
		if h.SequenceNumber != seq || h.SSRC != 1234 || h.PayloadType != 96 || !bytes.Equal(w1.payloads[i], []byte{byte(seq), 1, 2, 3}) {
			t.Fatalf("retransmission %d: %+v %v", i, h, w1.payloads[i])
		}
	}
	// Evicted (older than the cache) and never-seen packets are not sent.
	old := &rtcp.TransportLayerNack{MediaSSRC: 1234, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{65530 - rtxCacheSize, 20})}
	if sent := f.retransmit(b1, old, make([]byte, 1500), &hdr); sent != 0 {
		t.Fatalf("retransmitted %d unknown packets", sent)
	}
}

// Audio tracks keep no cache: Opus negotiates no NACK.
func TestAudioHasNoRetransmissionCache(t *testing.T) {
	owner := &peer{pid: "p-1"}
	if f := newForwarder(owner, "microphone", webrtc.RTPCodecTypeAudio, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, nil, nil); f.rtx != nil {
		t.Fatal("audio forwarder has a retransmission cache")
	}
	if f := newForwarder(owner, "camera", webrtc.RTPCodecTypeVideo, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, nil, nil); f.rtx == nil {
		t.Fatal("video forwarder has no retransmission cache")
	}
}

type dtmfCtx struct {
	fakeCtx
	withEvents bool
}

func (c dtmfCtx) CodecParameters() []webrtc.RTPCodecParameters {
	out := []webrtc.RTPCodecParameters{{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}}
	if c.withEvents {
		out = append(out,
			webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000}, PayloadType: 126},
			webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 48000}, PayloadType: 110})
	}
	return out
}

// RFC 4733 events are forwarded with each subscriber's telephone-event
// payload type at the track's clock rate, and not at all to a subscriber
// that did not negotiate them.
func TestTelephoneEventPayloadTypes(t *testing.T) {
	f := newForwarder(&peer{pid: "p"}, "microphone", webrtc.RTPCodecTypeAudio, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, nil, nil)
	f.events = telephoneEvents([]webrtc.RTPCodecParameters{ // the publisher's
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 48000}, PayloadType: 101}})
	with, without := &capturingWriter{}, &capturingWriter{}
	_, _ = f.Bind(dtmfCtx{fakeCtx{id: "1", w: with}, true})
	_, _ = f.Bind(dtmfCtx{fakeCtx{id: "2", w: without}, false})
	f.writePacket(&rtp.Packet{Header: rtp.Header{PayloadType: 111, SequenceNumber: 1}, Payload: []byte{0xFC, 1}})
	f.writePacket(&rtp.Packet{Header: rtp.Header{PayloadType: 101, SequenceNumber: 2, Marker: true}, Payload: []byte{5, 0x0A, 0, 160}})
	if len(with.hdrs) != 2 || with.hdrs[0].PayloadType != 111 || with.hdrs[1].PayloadType != 110 || !bytes.Equal(with.payloads[1], []byte{5, 0x0A, 0, 160}) {
		t.Fatalf("with telephone-event: %+v", with.hdrs)
	}
	if len(without.hdrs) != 1 || without.hdrs[0].PayloadType != 111 {
		t.Fatalf("without telephone-event: %+v", without.hdrs)
	}
}
