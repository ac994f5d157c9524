package sfu

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// A probe is called on the reader goroutine, after the subscribers, with
// the publisher's header (SSRC and payload type too, though the
// subscriber got its own) without extensions and the payload; while the
// track is muted it sees nothing; a failing probe and a detached one are
// not called again; and a probe adds no allocation per packet.
func TestProbeSeesForwardedPackets(t *testing.T) {
	tr := opusTrack(t)
	pc := &capturingWriter{}
	if _, err := tr.Bind(fakeCtx{id: "pc", w: pc}); err != nil {
		t.Fatal(err)
	}
	var seen []got
	var subscriberHad []int // how many packets the subscriber had when the probe ran
	detach, err := tr.Observe(SinkFunc(func(h *rtp.Header, payload []byte) error {
		seen = append(seen, got{*h, bytes.Clone(payload)})
		subscriberHad = append(subscriberHad, len(pc.hdrs))
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	failing := 0
	if _, err := tr.Observe(SinkFunc(func(*rtp.Header, []byte) error { failing++; return errors.New("done") })); err != nil {
		t.Fatal(err)
	}
	p1 := opusPacket(10, 1, 2, 3)
	_ = p1.Header.SetExtension(1, []byte{0x30})
	raw, _ := p1.Marshal()
	var pkt rtp.Packet
	_ = pkt.Unmarshal(raw)
	tr.writePacket(&pkt) // as Forward does, on this goroutine
	if len(seen) != 1 || subscriberHad[0] != 1 {
		t.Fatalf("probe calls %d, subscriber had %v", len(seen), subscriberHad)
	}
	h := seen[0].h
	if h.SSRC != 4242 || h.PayloadType != 111 || h.SequenceNumber != 10 || h.Extension || len(h.Extensions) != 0 || !bytes.Equal(seen[0].payload, []byte{1, 2, 3}) {
		t.Fatalf("probe saw %+v %x", h, seen[0].payload)
	}
	if pc.hdrs[0].SSRC != 1234 {
		t.Fatalf("subscriber SSRC %d", pc.hdrs[0].SSRC)
	}
	tr.SetMuted(true)
	pkt.SequenceNumber = 11
	tr.writePacket(&pkt)
	tr.SetMuted(false)
	pkt.SequenceNumber = 12
	tr.writePacket(&pkt)
	if failing != 1 || len(seen) != 2 || seen[1].h.SequenceNumber != 12 {
		t.Fatalf("failing probe called %d times; probe saw %d packets", failing, len(seen))
	}
	detach()
	n := len(seen)
	tr.writePacket(&pkt)
	if len(seen) != n {
		t.Fatal("a detached probe was called")
	}
	base := testing.AllocsPerRun(100, func() { tr.writePacket(&pkt) }) // the capturing subscriber's own
	var count int
	if _, err := tr.Observe(SinkFunc(func(*rtp.Header, []byte) error { count++; return nil })); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(100, func() { tr.writePacket(&pkt) }); allocs != base || count == 0 {
		t.Fatalf("%v allocations per packet with a probe, %v without (called %d times)", allocs, base, count)
	}
	tr.Close()
	if _, err := tr.Observe(SinkFunc(func(*rtp.Header, []byte) error { return nil })); !errors.Is(err, ErrClosed) {
		t.Fatalf("observing a closed track: %v", err)
	}
}

// A Feedback acts on raw RTCP as ReadRTCP does: a NACK is answered from
// the cache to the subscriber whose SSRC it names, a PLI asks for a
// keyframe, reports reach the sink; junk is ignored.
func TestFeedbackHandlesRTCP(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	kf := &keyframes{}
	tr, err := NewTrack(TrackConfig{ID: "camera", Keyframe: kf.request, Clock: clk, Codec: webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	w := &capturingWriter{}
	_, _ = tr.Bind(vp8Ctx{fakeCtx{id: "1", w: w}})
	seen := make(chan got, 8)
	_, _ = tr.Observe(chanSink(seen)) // a packet reaches a probe after the subscribers
	src := newChanSource(7)
	forward(t, tr, src)
	for seq := uint16(1); seq <= 3; seq++ {
		src.send(t, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, SSRC: 7}, Payload: []byte{byte(seq), 9}})
		receive(t, seen)
	}
	var reports int
	f := tr.NewFeedback(RTCPSinkFunc(func(pkts []rtcp.Packet) error { reports++; return nil }))
	clk.add(DefaultKeyframeInterval) // past the request made when Forward started
	kfBefore := kf.count()
	n := len(w.hdrs)
	nack, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 1234, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{2, 3})}})
	f.HandleRTCP(nack)
	if len(w.hdrs) != n+2 || w.hdrs[n].SequenceNumber != 2 || w.hdrs[n+1].SequenceNumber != 3 || w.payloads[n][0] != 2 {
		t.Fatalf("retransmissions %+v", w.hdrs[n:])
	}
	other, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 99, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{2})}})
	f.HandleRTCP(other)
	f.HandleRTCP([]byte{1, 2, 3})
	if len(w.hdrs) != n+2 {
		t.Fatal("a NACK for another SSRC was answered")
	}
	pli, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: 1234}})
	f.HandleRTCP(pli)
	if kf.count() != kfBefore+1 {
		t.Fatalf("keyframe requests %d, want %d", kf.count(), kfBefore+1)
	}
	rr, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 5, Reports: []rtcp.ReceptionReport{{SSRC: 1234}}}})
	f.HandleRTCP(rr)
	if reports != 1 {
		t.Fatalf("%d reports reached the sink", reports)
	}
}
