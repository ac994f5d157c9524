package sfu

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// chanSource is a publisher for Forward: each raw packet sent on c is one
// Read; closing c ends it with io.EOF.
type chanSource struct {
	ssrc uint32
	c    chan []byte
}

func newChanSource(ssrc uint32) *chanSource { return &chanSource{ssrc: ssrc, c: make(chan []byte)} }

func (s *chanSource) SSRC() webrtc.SSRC { return webrtc.SSRC(s.ssrc) }

func (s *chanSource) Read(b []byte) (int, interceptor.Attributes, error) {
	raw, ok := <-s.c
	if !ok {
		return 0, nil, io.EOF
	}
	return copy(b, raw), nil, nil
}

// send marshals p and hands it to Forward (returning once Forward has it).
func (s *chanSource) send(tb testing.TB, p *rtp.Packet) {
	tb.Helper()
	raw, err := p.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	s.c <- raw
}

// forward runs t.Forward(src) until the test ends.
func forward(t *testing.T, tr *Track, src *chanSource) {
	done := make(chan error, 1)
	go func() { done <- tr.Forward(src) }()
	t.Cleanup(func() {
		close(src.c)
		if err := <-done; err != nil {
			t.Errorf("Forward: %v", err)
		}
	})
}

// got is one packet as a sink saw it (copied).
type got struct {
	h       rtp.Header
	payload []byte
}

// chanSink passes a copy of each packet on c.
func chanSink(c chan<- got) SinkFunc {
	return func(h *rtp.Header, payload []byte) error {
		hc := *h
		hc.CSRC = append([]uint32(nil), h.CSRC...)
		c <- got{hc, bytes.Clone(payload)}
		return nil
	}
}

func receive(t *testing.T, c <-chan got) got {
	t.Helper()
	select {
	case g := <-c:
		return g
	case <-time.After(10 * time.Second):
		t.Fatal("no packet at the sink in 10 s")
	}
	return got{}
}

func noPacket(t *testing.T, c <-chan got, what string) {
	t.Helper()
	select {
	case g := <-c:
		t.Fatalf("%s: the sink got packet %d", what, g.h.SequenceNumber)
	default:
	}
}

func opusPacket(seq uint16, payload ...byte) *rtp.Packet {
	return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: uint32(seq) * 960, SSRC: 4242}, Payload: payload}
}

// A sink sees the publisher's packets as the publisher sent them (SSRC,
// payload type, sequence number, timestamp, marker, CSRC, payload), in
// order, without header extensions and padding; PeerConnection bindings
// get their own SSRC and payload type for the same packet.
func TestSinkSeesThePublishersPackets(t *testing.T) {
	opus := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 109}
	event := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: 48000}, PayloadType: 101}
	tr, err := NewTrack(TrackConfig{ID: "microphone", StreamID: "p", Codec: opus, Negotiated: []webrtc.RTPCodecParameters{opus, event}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Kind() != webrtc.RTPCodecTypeAudio || tr.Codec().PayloadType != 109 || len(tr.TelephoneEvents()) != 1 || tr.TelephoneEvents()[0].PayloadType != 101 {
		t.Fatalf("track %v %+v %+v", tr.Kind(), tr.Codec(), tr.TelephoneEvents())
	}
	pc := &capturingWriter{}
	if _, err := tr.Bind(dtmfCtx{fakeCtx{id: "pc", w: pc}, true}); err != nil {
		t.Fatal(err)
	}
	c := make(chan got, 16)
	if _, err := tr.Attach(chanSink(c)); err != nil {
		t.Fatal(err)
	}
	src := newChanSource(4242)
	forward(t, tr, src)
	sent := []*rtp.Packet{
		{Header: rtp.Header{Version: 2, PayloadType: 109, SequenceNumber: 65535, Timestamp: 4294966000, SSRC: 4242, Marker: true, CSRC: []uint32{7, 8}}, Payload: []byte{0xFC, 1, 2}},
		{Header: rtp.Header{Version: 2, PayloadType: 109, SequenceNumber: 0, Timestamp: 4294966960, SSRC: 4242}, Payload: []byte{0xFC, 3}},
		{Header: rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: 1, Timestamp: 4294966960, SSRC: 4242, Marker: true}, Payload: []byte{5, 0x8A, 0x03, 0xC0}},
		{Header: rtp.Header{Version: 2, PayloadType: 109, SequenceNumber: 3, Timestamp: 1000, SSRC: 4242}, Payload: []byte{0xFC, 4}}, // 2 lost
	}
	_ = sent[1].Header.SetExtension(1, []byte{0x30})
	sent[3].Header.Padding, sent[3].PaddingSize = true, 4
	for _, p := range sent {
		src.send(t, p)
	}
	for i, p := range sent {
		g := receive(t, c)
		h := g.h
		if h.SSRC != 4242 || h.PayloadType != p.PayloadType || h.SequenceNumber != p.SequenceNumber || h.Timestamp != p.Timestamp ||
			h.Marker != p.Marker || len(h.CSRC) != len(p.CSRC) || h.Extension || len(h.Extensions) != 0 || h.Padding || h.Version != 2 {
			t.Fatalf("packet %d: the sink saw %+v, sent %+v", i, h, p.Header)
		}
		for j := range h.CSRC {
			if h.CSRC[j] != p.CSRC[j] {
				t.Fatalf("packet %d: CSRC %v, sent %v", i, h.CSRC, p.CSRC)
			}
		}
		if !bytes.Equal(g.payload, p.Payload) {
			t.Fatalf("packet %d: payload %x, sent %x", i, g.payload, p.Payload)
		}
	}
	if tr.SSRC() != 4242 {
		t.Fatalf("SSRC %d", tr.SSRC())
	}
	// The subscriber got the same packets under its own SSRC and types.
	if len(pc.hdrs) != 4 || pc.hdrs[0].SSRC != 1234 || pc.hdrs[0].PayloadType != 111 || pc.hdrs[2].PayloadType != 110 {
		t.Fatalf("the subscriber got %+v", pc.hdrs)
	}
}

// After detach returns, the sink is not called again; other sinks go on.
func TestSinkDetach(t *testing.T) {
	tr := opusTrack(t)
	src := newChanSource(1)
	forward(t, tr, src)
	first, second := make(chan got, 64), make(chan got, 64)
	detach, err := tr.Attach(chanSink(first))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Attach(chanSink(second)); err != nil {
		t.Fatal(err)
	}
	src.send(t, opusPacket(1, 1))
	if receive(t, first).h.SequenceNumber != 1 || receive(t, second).h.SequenceNumber != 1 {
		t.Fatal("packet 1 did not reach both sinks")
	}
	detach()
	detach() // again: nothing
	src.send(t, opusPacket(2, 2))
	src.send(t, opusPacket(3, 3))
	if receive(t, second).h.SequenceNumber != 2 || receive(t, second).h.SequenceNumber != 3 {
		t.Fatal("the other sink lost packets")
	}
	noPacket(t, first, "after detach")
}

// A sink that returns an error is detached: it sees no packet after the
// failing one, its detach function does nothing, other sinks go on.
func TestSinkErrorDetaches(t *testing.T) {
	tr := opusTrack(t)
	src := newChanSource(1)
	forward(t, tr, src)
	var mu sync.Mutex
	var seen []uint16
	detach, err := tr.Attach(SinkFunc(func(h *rtp.Header, _ []byte) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, h.SequenceNumber)
		if h.SequenceNumber == 2 {
			return errors.New("disk full")
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	other := make(chan got, 64)
	if _, err := tr.Attach(chanSink(other)); err != nil {
		t.Fatal(err)
	}
	for seq := uint16(1); seq <= 4; seq++ {
		src.send(t, opusPacket(seq, byte(seq)))
	}
	for seq := uint16(1); seq <= 4; seq++ {
		if g := receive(t, other); g.h.SequenceNumber != seq {
			t.Fatalf("the other sink got %d, want %d", g.h.SequenceNumber, seq)
		}
	}
	detach() // a no-op now; must not block
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != 1 || seen[1] != 2 {
		t.Fatalf("the failing sink saw %v, want [1 2]", seen)
	}
}

// A sink that blocks delays neither Forward nor the PeerConnection
// subscribers: they get every packet while it is blocked. The sinks miss
// the packets past the queue (the queue's length less two waiting, one in
// flight), counted by Dropped, and get the queued ones once it returns.
func TestBlockedSinkDoesNotDelaySubscribers(t *testing.T) {
	const queue = 8
	tr, err := NewTrack(TrackConfig{ID: "a", SinkQueue: queue, Codec: webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	pc := &capturingWriter{}
	_, _ = tr.Bind(fakeCtx{id: "pc", w: pc})
	blocked, release := make(chan struct{}), make(chan struct{})
	c := make(chan got, 64)
	var once sync.Once
	if _, err := tr.Attach(SinkFunc(func(h *rtp.Header, p []byte) error {
		once.Do(func() { close(blocked); <-release })
		return chanSink(c)(h, p)
	})); err != nil {
		t.Fatal(err)
	}
	tr.writePacket(opusPacket(1, 1))
	<-blocked // the sink holds packet 1
	waiting := queue - 2
	for seq := uint16(2); seq < uint16(2+waiting); seq++ { // fills the queue: nothing dropped
		tr.writePacket(opusPacket(seq, byte(seq)))
	}
	if d := tr.Dropped(); d != 0 {
		t.Fatalf("%d dropped with the queue just full", d)
	}
	last := uint16(2 + waiting)
	for seq := last; seq < last+50; seq++ { // one past the queue and more
		tr.writePacket(opusPacket(seq, byte(seq)))
		if d := tr.Dropped(); d != uint64(seq-last+1) {
			t.Fatalf("after packet %d: %d dropped, want %d", seq, d, seq-last+1)
		}
	}
	if len(pc.hdrs) != int(last)+49 {
		t.Fatalf("the subscriber got %d packets while the sink was blocked, want %d", len(pc.hdrs), int(last)+49)
	}
	close(release)
	for seq := uint16(1); seq < last; seq++ {
		if g := receive(t, c); g.h.SequenceNumber != seq {
			t.Fatalf("the sink got %d, want %d", g.h.SequenceNumber, seq)
		}
	}
	tr.writePacket(opusPacket(1000, 1)) // the queue flows again
	if g := receive(t, c); g.h.SequenceNumber != 1000 {
		t.Fatalf("the sink got %d after catching up", g.h.SequenceNumber)
	}
}

// Nothing reaches a sink while the track is muted; after Close nothing
// does, Done is closed, Attach fails, and Close does not wait for a sink
// that is blocked.
func TestSinkMuteAndClose(t *testing.T) {
	tr := opusTrack(t)
	c := make(chan got, 64)
	if _, err := tr.Attach(chanSink(c)); err != nil {
		t.Fatal(err)
	}
	tr.SetMuted(true)
	tr.writePacket(opusPacket(1, 1))
	tr.SetMuted(false)
	tr.writePacket(opusPacket(2, 2))
	if g := receive(t, c); g.h.SequenceNumber != 2 {
		t.Fatalf("got packet %d, sent while muted", g.h.SequenceNumber)
	}
	blocked, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	var once sync.Once
	if _, err := tr.Attach(SinkFunc(func(*rtp.Header, []byte) error {
		once.Do(func() { close(blocked); <-release })
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	tr.writePacket(opusPacket(3, 3))
	<-blocked
	receive(t, c)
	tr.Close() // returns though a sink is blocked
	select {
	case <-tr.Done():
	default:
		t.Fatal("Done is open after Close")
	}
	tr.writePacket(opusPacket(4, 4))
	noPacket(t, c, "after Close")
	if _, err := tr.Attach(nopSink); !errors.Is(err, ErrClosed) {
		t.Fatalf("Attach after Close: %v", err)
	}
	tr.Close() // again: nothing
}

// Forward's end closes the track; a second Forward is refused.
func TestForwardEndClosesTheTrack(t *testing.T) {
	tr := opusTrack(t)
	src := newChanSource(9)
	done := make(chan error, 1)
	go func() { done <- tr.Forward(src) }()
	src.send(t, opusPacket(1, 1))
	if err := tr.Forward(newChanSource(10)); !errors.Is(err, ErrForwarding) {
		t.Fatalf("second Forward: %v", err)
	}
	close(src.c)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	<-tr.Done()
}

func TestNewTrackNeedsAMediaCodec(t *testing.T) {
	for _, mime := range []string{"", "application/data", "opus"} {
		if _, err := NewTrack(TrackConfig{Codec: webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mime}}}); !errors.Is(err, ErrCodec) {
			t.Fatalf("%q: %v", mime, err)
		}
	}
}
