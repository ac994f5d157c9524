package sfu

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
	f := vp8Track(t, nil)
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

// vp8Track is a video Track as a test makes it; keyframe (may be nil)
// receives its keyframe requests.
func vp8Track(tb testing.TB, keyframe func(uint32)) *Track {
	tb.Helper()
	t, err := NewTrack(TrackConfig{ID: "camera", StreamID: "p", Keyframe: keyframe, Codec: webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(t.Close)
	return t
}

// Audio tracks keep no cache: Opus negotiates no NACK.
func TestAudioHasNoRetransmissionCache(t *testing.T) {
	if f := opusTrack(t); f.rtx != nil {
		t.Fatal("audio track has a retransmission cache")
	}
	if f := vp8Track(t, nil); f.rtx == nil {
		t.Fatal("video track has no retransmission cache")
	}
}

// A NACK that names the same packets over and over (a hostile subscriber's
// amplifier: one RTCP packet of 1,500 bytes holds some 370 pairs) gets
// each cached packet once, so a NACK costs at most one cache's worth of
// retransmissions.
func TestRetransmitOncePerNACK(t *testing.T) {
	f := vp8Track(t, nil)
	w := &capturingWriter{}
	_, _ = f.Bind(vp8Ctx{fakeCtx{id: "1", w: w}})
	for seq := uint16(0); seq < 2*rtxCacheSize; seq++ {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 100, SequenceNumber: seq, SSRC: 7}, Payload: []byte{byte(seq), 1}}
		raw, _ := p.Marshal()
		f.rtx.put(seq, raw)
	}
	b := f.bindingBySSRC(1234)
	var hdr rtp.Header
	pairs := rtcp.NackPairsFromSequenceNumbers([]uint16{600, 601, 616})
	var repeated []rtcp.NackPair
	for range 370 {
		repeated = append(repeated, pairs...)
	}
	if sent := f.retransmit(b, &rtcp.TransportLayerNack{MediaSSRC: 1234, Nacks: repeated}, make([]byte, 1500), &hdr); sent != 3 {
		t.Fatalf("a NACK naming 3 packets 370 times: %d retransmissions, want 3", sent)
	}
	// Every cached packet at once: one cache's worth, each once.
	var all []uint16
	for seq := uint16(0); seq < 2*rtxCacheSize; seq++ {
		all = append(all, seq, seq)
	}
	w.hdrs = nil
	if sent := f.retransmit(b, &rtcp.TransportLayerNack{MediaSSRC: 1234, Nacks: rtcp.NackPairsFromSequenceNumbers(all)}, make([]byte, 1500), &hdr); sent != rtxCacheSize {
		t.Fatalf("a NACK of every packet twice: %d retransmissions, want %d", sent, rtxCacheSize)
	}
	for i, h := range w.hdrs {
		if want := uint16(rtxCacheSize + i); h.SequenceNumber != want {
			t.Fatalf("retransmission %d is packet %d, want %d", i, h.SequenceNumber, want)
		}
	}
}
