package sfu

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

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
	opus := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}
	f, err := NewTrack(TrackConfig{ID: "microphone", Codec: opus, Negotiated: []webrtc.RTPCodecParameters{opus, // the publisher's
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 48000}, PayloadType: 101}}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
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
