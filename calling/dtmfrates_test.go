package calling_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// rateEventTrack is an Opus track that also sends RFC 4733 events at
// 8 kHz and at 48 kHz on the same SSRC, each with the payload type the
// server negotiated for that clock rate.
type rateEventTrack struct {
	mu       sync.Mutex
	bindings []rateBinding
}

type rateBinding struct {
	ssrc   uint32
	opus   uint8
	events map[uint32]uint8 // clock rate → payload type
	w      webrtc.TrackLocalWriter
}

func (t *rateEventTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	b := rateBinding{ssrc: uint32(ctx.SSRC()), w: ctx.WriteStream(), events: map[uint32]uint8{}}
	var opus webrtc.RTPCodecParameters
	for _, c := range ctx.CodecParameters() {
		switch {
		case strings.EqualFold(c.MimeType, webrtc.MimeTypeOpus):
			opus, b.opus = c, uint8(c.PayloadType)
		case strings.EqualFold(c.MimeType, "audio/telephone-event"):
			b.events[c.ClockRate] = uint8(c.PayloadType)
		}
	}
	t.mu.Lock()
	t.bindings = append(t.bindings, b)
	t.mu.Unlock()
	return opus, nil
}

func (t *rateEventTrack) Unbind(webrtc.TrackLocalContext) error { return nil }
func (t *rateEventTrack) ID() string                            { return "mic" }
func (t *rateEventTrack) RID() string                           { return "" }
func (t *rateEventTrack) StreamID() string                      { return "pub" }
func (t *rateEventTrack) Kind() webrtc.RTPCodecType             { return webrtc.RTPCodecTypeAudio }

// write sends payload as Opus (rate 0) or as a telephone event at rate.
func (t *rateEventTrack) write(seq uint16, rate uint32, payload []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, b := range t.bindings {
		h := rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: b.ssrc, PayloadType: b.opus}
		if rate != 0 {
			h.PayloadType, h.Marker = b.events[rate], true
		}
		_, _ = b.w.WriteRTP(&h, payload)
	}
}

// eightKHzOnlyAPI is a client API that negotiates Opus and telephone-event
// at 8 kHz only (as Firefox does), ICE on loopback.
func eightKHzOnlyAPI(t *testing.T) *webrtc.API {
	me := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 8000, SDPFmtpLine: "0-16"}, PayloadType: 126},
	} {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
}

// Telephone events at 8 kHz (what browsers send) and at 48 kHz reach each
// subscriber under its own telephone-event payload type of the same clock
// rate, and are dropped for a subscriber that has none at that rate: never
// forwarded as audio.
func TestTelephoneEventsAtEachClockRate(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxT(t, 30*time.Second)
	both := e.dial("both")
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	only8, err := client.Dial(dctx, client.Config{URL: e.wsURL, Token: e.token("only8k", roomGrants), API: eightKHzOnlyAPI(t)})
	if err != nil {
		t.Fatal(err)
	}
	e.clients = append(e.clients, only8)
	for _, c := range []*client.Client{both, only8} {
		if _, err := c.Join(ctx, client.JoinRequest{Room: "dtmf"}); err != nil {
			t.Fatal(err)
		}
	}
	pub := e.dial("pub")
	tr := &rateEventTrack{}
	if err := pub.Publish(rooms.AliasMicrophone, tr); err != nil {
		t.Fatal(err)
	}
	jp, err := pub.Join(ctx, client.JoinRequest{Room: "dtmf"})
	if err != nil {
		t.Fatal(err)
	}
	ev8 := []byte{1, 0x8A, 0x00, 0xA0}  // digit 1, end, 20 ms at 8 kHz
	ev48 := []byte{9, 0x8A, 0x03, 0xC0} // digit 9, end, 20 ms at 48 kHz
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(1); ; seq++ {
			select {
			case <-sendCtx.Done():
				return
			case <-tick.C:
				switch seq % 6 { // an event first: the track's codec is still Opus
				case 1:
					tr.write(seq, 8000, ev8)
				case 4:
					tr.write(seq, 48000, ev48)
				default:
					tr.write(seq, 0, opusFrame(uint32(seq)))
				}
			}
		}
	}()

	check := func(name string, c *client.Client, want48 bool) {
		remote := waitTrack(t, c, jp.ParticipantID)
		pts := map[uint32]uint8{}
		var opusPT uint8
		for _, codec := range remote.Receiver.GetParameters().Codecs {
			switch {
			case strings.EqualFold(codec.MimeType, "audio/telephone-event"):
				pts[codec.ClockRate] = uint8(codec.PayloadType)
			case strings.EqualFold(codec.MimeType, webrtc.MimeTypeOpus):
				opusPT = uint8(codec.PayloadType)
			}
		}
		if pts[8000] == 0 || (pts[48000] != 0) != want48 {
			t.Fatalf("%s negotiated telephone-event %v", name, pts)
		}
		got8, got48 := 0, 0
		for i := 0; i < 120; i++ {
			_ = remote.SetReadDeadline(time.Now().Add(5 * time.Second))
			pkt, _, err := remote.ReadRTP()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			switch {
			case bytes.Equal(pkt.Payload, ev8):
				if pkt.PayloadType != pts[8000] {
					t.Fatalf("%s: an 8 kHz event arrived as payload type %d, want %d", name, pkt.PayloadType, pts[8000])
				}
				got8++
			case bytes.Equal(pkt.Payload, ev48):
				if !want48 || pkt.PayloadType != pts[48000] {
					t.Fatalf("%s: a 48 kHz event arrived as payload type %d (negotiated %v)", name, pkt.PayloadType, pts)
				}
				got48++
			case pkt.PayloadType != opusPT || pkt.Payload[0] != 0xFC:
				t.Fatalf("%s: unexpected packet type %d %x", name, pkt.PayloadType, pkt.Payload)
			}
		}
		if got8 == 0 || (got48 == 0) == want48 {
			t.Fatalf("%s: %d 8 kHz and %d 48 kHz events in 120 packets", name, got8, got48)
		}
	}
	check("both rates", both, true)
	check("8 kHz only", only8, false)
}
