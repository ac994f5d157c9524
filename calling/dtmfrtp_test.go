package calling_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// eventTrack is an Opus track that can also send RFC 4733 telephone events
// on the same SSRC (what a browser's RTCDTMFSender does).
type eventTrack struct {
	mu       sync.Mutex
	bindings []eventBinding
}

type eventBinding struct {
	id          string
	ssrc        uint32
	opus, event uint8
	w           webrtc.TrackLocalWriter
}

func (t *eventTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	b := eventBinding{id: ctx.ID(), ssrc: uint32(ctx.SSRC()), w: ctx.WriteStream()}
	var opus webrtc.RTPCodecParameters
	for _, c := range ctx.CodecParameters() {
		switch {
		case strings.EqualFold(c.MimeType, webrtc.MimeTypeOpus):
			opus, b.opus = c, uint8(c.PayloadType)
		case strings.EqualFold(c.MimeType, "audio/telephone-event") && c.ClockRate == 48000:
			b.event = uint8(c.PayloadType)
		}
	}
	t.mu.Lock()
	t.bindings = append(t.bindings, b)
	t.mu.Unlock()
	return opus, nil
}

func (t *eventTrack) Unbind(ctx webrtc.TrackLocalContext) error { return nil }
func (t *eventTrack) ID() string                                { return "mic" }
func (t *eventTrack) RID() string                               { return "" }
func (t *eventTrack) StreamID() string                          { return "alice" }
func (t *eventTrack) Kind() webrtc.RTPCodecType                 { return webrtc.RTPCodecTypeAudio }

func (t *eventTrack) write(seq uint16, event bool, payload []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, b := range t.bindings {
		h := rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: b.ssrc, PayloadType: b.opus}
		if event {
			h.PayloadType, h.Marker = b.event, true
		}
		_, _ = b.w.WriteRTP(&h, payload)
	}
}

// DTMF carried as RFC 4733 RTP reaches the other party of a call as
// telephone-event packets, payload intact, next to the signaled event.
func TestCallDTMFAsRTP(t *testing.T) {
	e := newEnv(t, nil)
	alice, bob := e.phone("alice"), e.phone("bob")
	tr := &eventTrack{}
	if err := alice.Publish(rooms.AliasMicrophone, tr); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 20*time.Second)
	id, _ := alice.Call(ctx, "bob", calling.CallOptions{Audio: true})
	incoming(t, bob)
	_ = bob.Accept(id, calling.CallOptions{Audio: true})
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	event := []byte{5, 0x8A, 0x03, 0xC0} // digit 5, end bit, volume 10, duration 960
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(1); ; seq++ {
			select {
			case <-sendCtx.Done():
				return
			case <-tick.C:
				tr.write(seq, seq%10 == 0, map[bool][]byte{true: event, false: opusFrame(uint32(seq))}[seq%10 == 0])
			}
		}
	}()
	remote := anyTrack(t, bob)
	var evPT uint8
	for _, c := range remote.Receiver.GetParameters().Codecs {
		if strings.EqualFold(c.MimeType, "audio/telephone-event") && c.ClockRate == 48000 {
			evPT = uint8(c.PayloadType)
		}
	}
	if evPT == 0 {
		t.Fatal("telephone-event was not negotiated with bob")
	}
	_ = alice.SendDTMF(id, "5") // the signaled twin
	for i := 0; i < 100; i++ {
		_ = remote.SetReadDeadline(time.Now().Add(5 * time.Second))
		pkt, _, err := remote.ReadRTP()
		if err != nil {
			t.Fatal(err)
		}
		if pkt.PayloadType == evPT {
			if !bytes.Equal(pkt.Payload, event) || !pkt.Marker {
				t.Fatalf("event packet %+v %x", pkt.Header, pkt.Payload)
			}
			if m := waitEvent(t, bob, calling.TypeDTMF, ""); m.Digits != "5" {
				t.Fatalf("signaled DTMF %+v", m)
			}
			return
		}
	}
	t.Fatal("no telephone-event packet in 100 packets")
}
