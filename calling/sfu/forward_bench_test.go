package sfu

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// countingWriter stands in for a subscriber's SRTP write stream.
type countingWriter struct{ n int }

func (w *countingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.n += len(payload)
	return len(payload), nil
}
func (w *countingWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

type fakeCtx struct {
	id string
	w  webrtc.TrackLocalWriter
}

func (c fakeCtx) CodecParameters() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}}
}
func (c fakeCtx) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }
func (c fakeCtx) SSRC() webrtc.SSRC                                      { return 1234 }
func (c fakeCtx) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (c fakeCtx) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (c fakeCtx) WriteStream() webrtc.TrackLocalWriter                   { return c.w }
func (c fakeCtx) ID() string                                             { return c.id }
func (c fakeCtx) RTCPReader() interceptor.RTCPReader                     { return nil }

func benchPacket() *rtp.Packet {
	p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 1, Timestamp: 960, SSRC: 99}, Payload: make([]byte, 80)}
	_ = p.Header.SetExtension(1, []byte{0x30})
	return p
}

// opusTrack is an audio Track as a test makes it.
func opusTrack(tb testing.TB) *Track {
	tb.Helper()
	t, err := NewTrack(TrackConfig{ID: "microphone", StreamID: "p", Codec: webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(t.Close)
	return t
}

// nopSink takes every packet and does nothing.
var nopSink = SinkFunc(func(*rtp.Header, []byte) error { return nil })

// BenchmarkForward: one audio packet written to N subscribers by our
// Track (copy-on-write bindings, no lock) beside pion's
// TrackLocalStaticRTP (bindings under an RWMutex, a pooled packet copy);
// and by our Track with one sink attached besides the N subscribers, as
// fast as the loop goes (the sink goroutine falls behind: the cost the
// sink queue adds to the PeerConnection fan-out, mostly its drop path) and
// one packet at a time (each delivered to the sink before the next).
func BenchmarkForward(b *testing.B) {
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	for _, n := range []int{1, 10, 50} {
		for _, sinks := range []int{0, 1} {
			name := fmt.Sprintf("switchboard/subs=%d", n)
			if sinks > 0 {
				name = fmt.Sprintf("switchboard+sink/subs=%d", n)
			}
			b.Run(name, func(b *testing.B) {
				f := opusTrack(b)
				for i := range n {
					if _, err := f.Bind(fakeCtx{id: fmt.Sprint(i), w: &countingWriter{}}); err != nil {
						b.Fatal(err)
					}
				}
				for range sinks {
					if _, err := f.Attach(nopSink); err != nil {
						b.Fatal(err)
					}
				}
				pkt := benchPacket()
				b.ReportAllocs()
				for b.Loop() {
					f.writePacket(pkt)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/forwarded-packet")
				if sinks > 0 { // packets the sink goroutine did not keep up with
					b.ReportMetric(float64(f.Dropped())/float64(b.N), "sink-drops/op")
				}
			})
		}
		b.Run(fmt.Sprintf("switchboard+sink-each/subs=%d", n), func(b *testing.B) {
			// Each packet waits until the sink has it: the whole hand-off
			// to a sink goroutine that sleeps between packets, as it does
			// on a real track (waking it, the call, waking the loop again).
			f := opusTrack(b)
			for i := range n {
				if _, err := f.Bind(fakeCtx{id: fmt.Sprint(i), w: &countingWriter{}}); err != nil {
					b.Fatal(err)
				}
			}
			got := make(chan struct{}, 1)
			if _, err := f.Attach(SinkFunc(func(*rtp.Header, []byte) error { got <- struct{}{}; return nil })); err != nil {
				b.Fatal(err)
			}
			pkt := benchPacket()
			b.ReportAllocs()
			for b.Loop() {
				f.writePacket(pkt)
				<-got
			}
		})
		b.Run(fmt.Sprintf("pion-static-rtp/subs=%d", n), func(b *testing.B) {
			tr, _ := webrtc.NewTrackLocalStaticRTP(codec, "a", "s")
			for i := range n {
				if _, err := tr.Bind(fakeCtx{id: fmt.Sprint(i), w: &countingWriter{}}); err != nil {
					b.Fatal(err)
				}
			}
			pkt := benchPacket()
			b.ReportAllocs()
			for b.Loop() {
				_ = tr.WriteRTP(pkt)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/forwarded-packet")
		})
	}
}

// TestForwardAllocatesNothing: the per-packet path allocates nothing, with
// and without a sink attached.
func TestForwardAllocatesNothing(t *testing.T) {
	f := opusTrack(t)
	for i := range 10 {
		_, _ = f.Bind(fakeCtx{id: fmt.Sprint(i), w: &countingWriter{}})
	}
	pkt := benchPacket()
	if a := testing.AllocsPerRun(1000, func() { f.writePacket(pkt) }); a != 0 {
		t.Fatalf("%v allocations per forwarded packet", a)
	}
	if _, err := f.Attach(nopSink); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(1000, func() { f.writePacket(pkt) }); a != 0 {
		t.Fatalf("%v allocations per forwarded packet with a sink", a)
	}
	// The publisher's header extensions are not forwarded, the payload is untouched.
	w := &recordingWriter{}
	f2 := opusTrack(t)
	_, _ = f2.Bind(fakeCtx{id: "x", w: w})
	f2.writePacket(pkt)
	if w.h.Extension || len(w.h.Extensions) != 0 || w.h.SSRC != 1234 || w.h.PayloadType != 111 || len(w.payload) != 80 {
		t.Fatalf("forwarded header %+v", w.h)
	}
	if !pkt.Header.Extension {
		t.Fatal("the publisher's packet was modified")
	}
}

type recordingWriter struct {
	h       rtp.Header
	payload []byte
}

func (w *recordingWriter) WriteRTP(h *rtp.Header, p []byte) (int, error) {
	w.h, w.payload = *h, p
	return len(p), nil
}
func (w *recordingWriter) Write(b []byte) (int, error) { return len(b), nil }

// batchLog records Begin, End and the writes between them.
type batchLog struct{ events []string }

func (l *batchLog) Begin() { l.events = append(l.events, "begin") }
func (l *batchLog) End()   { l.events = append(l.events, "end") }

type loggingWriter struct {
	l  *batchLog
	id string
}

func (w loggingWriter) WriteRTP(*rtp.Header, []byte) (int, error) {
	w.l.events = append(w.l.events, w.id)
	return 0, nil
}
func (w loggingWriter) Write(b []byte) (int, error) { return len(b), nil }

// A fan-out to several subscribers is one batch; a packet for one
// subscriber is not batched (nothing to gather).
func TestFanOutIsOneBatch(t *testing.T) {
	l := &batchLog{}
	tr, err := NewTrack(TrackConfig{Codec: opusTrack(t).Codec(), Batch: l})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	_, _ = tr.Bind(fakeCtx{id: "a", w: loggingWriter{l, "a"}})
	tr.writePacket(benchPacket())
	_, _ = tr.Bind(fakeCtx{id: "b", w: loggingWriter{l, "b"}})
	_, _ = tr.Bind(fakeCtx{id: "c", w: loggingWriter{l, "c"}})
	tr.writePacket(benchPacket())
	if got, want := strings.Join(l.events, " "), "a begin a b c end"; got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
	if a := testing.AllocsPerRun(100, func() { l.events = l.events[:0]; tr.writePacket(benchPacket0) }); a != 0 {
		t.Fatalf("%v allocations per batched fan-out", a)
	}
}

var benchPacket0 = benchPacket()
