package sfu

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// keyframes counts a track's keyframe requests.
type keyframes struct {
	mu    sync.Mutex
	ssrcs []uint32
}

func (k *keyframes) request(ssrc uint32) { k.mu.Lock(); k.ssrcs = append(k.ssrcs, ssrc); k.mu.Unlock() }
func (k *keyframes) count() int          { k.mu.Lock(); defer k.mu.Unlock(); return len(k.ssrcs) }

// Keyframes are asked for when a subscriber binds, a sink attaches, a
// subscriber sends PLI or FIR, or a sink asks; never before the publisher's
// first packet, at most once per KeyframeInterval, never for audio.
func TestKeyframeRequests(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	kf := &keyframes{}
	tr, err := NewTrack(TrackConfig{ID: "camera", Keyframe: kf.request, Clock: clk, Codec: webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	_, _ = tr.Bind(vp8Ctx{fakeCtx{id: "early", w: &countingWriter{}}})
	if kf.count() != 0 {
		t.Fatal("a keyframe was asked for before the first packet")
	}
	src := newChanSource(77)
	forward(t, tr, src)
	src.send(t, &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 1, SSRC: 77}, Payload: []byte{1}}) // Forward has started
	if kf.count() != 1 || kf.ssrcs[0] != 77 {
		t.Fatalf("a subscriber bound before the first packet: requests %v", kf.ssrcs)
	}
	clk.add(DefaultKeyframeInterval - time.Nanosecond) // just inside the interval
	_, _ = tr.Bind(vp8Ctx{fakeCtx{id: "late", w: &countingWriter{}}})
	detach, _ := tr.Attach(nopSink)
	defer detach()
	tr.RequestKeyframe()
	if kf.count() != 1 {
		t.Fatalf("%d requests within the interval", kf.count())
	}
	clk.add(time.Nanosecond) // the interval has passed
	tr.RequestKeyframe()
	if kf.count() != 2 {
		t.Fatalf("%d requests, want 2", kf.count())
	}
	clk.add(DefaultKeyframeInterval)
	if _, err := tr.Attach(nopSink); err != nil {
		t.Fatal(err)
	}
	if kf.count() != 3 {
		t.Fatal("attaching a sink asked for no keyframe")
	}
	clk.add(DefaultKeyframeInterval)
	r := &rtcpSource{c: make(chan []byte, 1)}
	pli, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: 1234}})
	r.c <- pli
	close(r.c)
	tr.ReadRTCP(r)
	if kf.count() != 4 {
		t.Fatal("a subscriber's PLI asked for no keyframe")
	}
	clk.add(DefaultKeyframeInterval)
	tr.Close()
	tr.RequestKeyframe()
	if kf.count() != 4 {
		t.Fatal("a closed track asked for a keyframe")
	}

	kfa := &keyframes{}
	audio, _ := NewTrack(TrackConfig{Keyframe: kfa.request, Codec: webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}}})
	defer audio.Close()
	asrc := newChanSource(5)
	forward(t, audio, asrc)
	asrc.send(t, opusPacket(1, 1))
	_, _ = audio.Attach(nopSink)
	audio.RequestKeyframe()
	if kfa.count() != 0 {
		t.Fatal("an audio track asked for a keyframe")
	}
}

var errClosedSource = errors.New("closed")

// rtcpSource is a subscriber's sender for ReadRTCP.
type rtcpSource struct{ c chan []byte }

func (r *rtcpSource) Read(b []byte) (int, interceptor.Attributes, error) {
	raw, ok := <-r.c
	if !ok {
		return 0, nil, errClosedSource
	}
	return copy(b, raw), nil, nil
}

// A subscriber's NACK, read by ReadRTCP, is answered from the cache to
// that subscriber.
func TestReadRTCPAnswersNACK(t *testing.T) {
	tr := vp8Track(t, nil)
	w := &capturingWriter{}
	_, _ = tr.Bind(vp8Ctx{fakeCtx{id: "1", w: w}})
	seen := make(chan got, 8)
	_, _ = tr.Attach(chanSink(seen)) // a packet reaches a sink after the subscribers
	src := newChanSource(7)
	forward(t, tr, src)
	for seq := uint16(1); seq <= 3; seq++ {
		src.send(t, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, SSRC: 7}, Payload: []byte{byte(seq), 9}})
		receive(t, seen)
	}
	r := &rtcpSource{c: make(chan []byte, 1)}
	nack, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 1234, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{2})}})
	r.c <- nack
	close(r.c)
	n := len(w.hdrs)
	tr.ReadRTCP(r)
	if len(w.hdrs) != n+1 || w.hdrs[n].SequenceNumber != 2 || w.payloads[n][0] != 2 {
		t.Fatalf("retransmissions %+v", w.hdrs[n:])
	}
}

// reportsSource yields the same RTCP packet n times, then ends.
type reportsSource struct {
	raw []byte
	n   int
}

func (r *reportsSource) Read(b []byte) (int, interceptor.Attributes, error) {
	if r.n == 0 {
		return 0, nil, errClosedSource
	}
	r.n--
	return copy(b, r.raw), nil, nil
}

// ReadRTCPTo hands every packet holding a sender or receiver report to the
// sink, for audio as for video, and nothing else; a failing sink is not
// called again; the reader allocates nothing per packet beyond what
// rtcp.Unmarshal does.
func TestReadRTCPToReports(t *testing.T) {
	audio, _ := NewTrack(TrackConfig{Codec: webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000}}})
	defer audio.Close()
	rr := &rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 2, FractionLost: 64, LastSequenceNumber: 100}}}
	sr := &rtcp.SenderReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 2, LastSequenceNumber: 150}}}
	mustMarshal := func(pkts ...rtcp.Packet) []byte {
		raw, err := rtcp.Marshal(pkts)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	r := &rtcpSource{c: make(chan []byte, 8)}
	r.c <- mustMarshal(rr, &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: 1, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "x"}}}}})
	r.c <- mustMarshal(&rtcp.PictureLossIndication{MediaSSRC: 2})
	r.c <- []byte{1, 2, 3} // not RTCP
	r.c <- mustMarshal(sr)
	r.c <- mustMarshal(rr)
	close(r.c)
	var got [][]rtcp.Packet
	audio.ReadRTCPTo(r, RTCPSinkFunc(func(pkts []rtcp.Packet) error {
		got = append(got, pkts)
		if len(got) == 2 {
			return errors.New("enough")
		}
		return nil
	}))
	if len(got) != 2 {
		t.Fatalf("%d report packets reached the sink, want 2 (an RR, an SR; none after its error)", len(got))
	}
	if b := got[0][0].(*rtcp.ReceiverReport).Reports[0]; b.FractionLost != 64 || len(got[0]) != 2 {
		t.Fatalf("first: %+v", got[0])
	}
	if b := got[1][0].(*rtcp.SenderReport).Reports[0]; b.LastSequenceNumber != 150 {
		t.Fatalf("second: %+v", got[1])
	}

	raw := mustMarshal(rr)
	unmarshal := testing.AllocsPerRun(100, func() { _, _ = rtcp.Unmarshal(raw) })
	const n = 100
	sink := RTCPSinkFunc(func([]rtcp.Packet) error { return nil })
	perRun := testing.AllocsPerRun(10, func() { audio.ReadRTCPTo(&reportsSource{raw: raw, n: n}, sink) })
	// A few per call (the read buffers, the source), none more per packet.
	if perRun > n*unmarshal+5 {
		t.Fatalf("%v allocations for %d packets; rtcp.Unmarshal alone makes %v per packet", perRun, n, unmarshal)
	}
}
