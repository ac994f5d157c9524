package senderreport

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/stats"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/transport/v4/test"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type rtcpCapture struct {
	mu     sync.Mutex
	writes [][]rtcp.Packet
}

func (c *rtcpCapture) Write(pkts []rtcp.Packet, _ interceptor.Attributes) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, pkts)
	c.mu.Unlock()
	return 0, nil
}

func (c *rtcpCapture) last(t *testing.T) []rtcp.Packet {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.writes) == 0 {
		t.Fatal("no report written")
	}
	return c.writes[len(c.writes)-1]
}

var nopRTP = interceptor.RTPWriterFunc(func(_ *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) { return len(p), nil })

func bind(t *testing.T, i interceptor.Interceptor, ssrc, rate uint32) interceptor.RTPWriter {
	t.Helper()
	return i.BindLocalStream(&interceptor.StreamInfo{SSRC: ssrc, ClockRate: rate}, nopRTP)
}

func TestReportsOfOnePeerConnectionInOnePacket(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	f := New(time.Hour, c.now) // reports only when the test asks
	ii, _ := f.NewInterceptor("")
	i := ii.(*Interceptor)
	defer i.Close()
	out := &rtcpCapture{}
	i.BindRTCPWriter(out)
	audio, video := bind(t, i, 1, 48000), bind(t, i, 2, 90000)
	bind(t, i, 3, 48000) // never sends: no report

	for k := range 50 { // 1 s of audio, 20 ms apart
		_, _ = audio.Write(&rtp.Header{SequenceNumber: uint16(100 + k), Timestamp: uint32(1000 + 960*k)}, make([]byte, 80), nil)
		c.add(20 * time.Millisecond)
	}
	_, _ = video.Write(&rtp.Header{SequenceNumber: 7, Timestamp: 5000}, make([]byte, 1000), nil)
	c.add(500 * time.Millisecond)
	f.Report()

	pkts := out.last(t)
	if len(pkts) != 2 {
		t.Fatalf("%d reports in the packet, want 2 (streams that sent)", len(pkts))
	}
	a, v := pkts[0].(*rtcp.SenderReport), pkts[1].(*rtcp.SenderReport)
	// The audio mark is its first packet (1000 at start): 1.5 s later is 1000 + 72000.
	if a.SSRC != 1 || a.PacketCount != 50 || a.OctetCount != 4000 || a.RTPTime != 1000+72000 {
		t.Fatalf("audio report %+v", a)
	}
	if v.SSRC != 2 || v.PacketCount != 1 || v.OctetCount != 1000 || v.RTPTime != 5000+45000 {
		t.Fatalf("video report %+v", v)
	}
	if want := ntp(c.now()); a.NTPTime != want {
		t.Fatalf("NTP time %x, want %x", a.NTPTime, want)
	}
	if got := time.Duration(int64(a.NTPTime>>32)-2208988800)*time.Second - time.Duration(c.now().Unix())*time.Second; got != 0 {
		t.Fatalf("NTP seconds off by %v", got)
	}

	// After a report the next in-order packet marks again; a retransmission does not.
	_, _ = audio.Write(&rtp.Header{SequenceNumber: 120, Timestamp: 1}, make([]byte, 80), nil) // old: retransmitted
	_, _ = audio.Write(&rtp.Header{SequenceNumber: 150, Timestamp: 900000}, make([]byte, 80), nil)
	c.add(time.Second)
	f.Report()
	a = out.last(t)[0].(*rtcp.SenderReport)
	if a.PacketCount != 52 || a.RTPTime != 900000+48000 {
		t.Fatalf("second audio report %+v, want 52 packets and RTP time 948000", a)
	}
}

func TestLoopRunsWhileStreamsAreBound(t *testing.T) {
	lim := test.TimeOut(10 * time.Second)
	defer lim.Stop()
	report := test.CheckRoutines(t)
	defer report()

	f := New(10*time.Millisecond, nil)
	ii, _ := f.NewInterceptor("")
	reports := make(chan struct{}, 8)
	ii.BindRTCPWriter(interceptor.RTCPWriterFunc(func([]rtcp.Packet, interceptor.Attributes) (int, error) {
		select {
		case reports <- struct{}{}:
		default:
		}
		return 0, nil
	}))
	w := bind(t, ii, 9, 48000)
	_, _ = w.Write(&rtp.Header{SequenceNumber: 1, Timestamp: 1}, []byte{1}, nil)
	<-reports // the loop reports by itself, more than once
	<-reports
	ii.UnbindLocalStream(&interceptor.StreamInfo{SSRC: 9})
	_ = ii.Close()
	// CheckRoutines fails if the loop outlives the last stream.
}

// BenchmarkWritePath: what each interceptor adds to one packet written to
// a local stream (an SFU writes one per subscriber): none, pion's sender
// reports, ours, and pion's statistics.
func BenchmarkWritePath(b *testing.B) {
	pionSR, _ := report.NewSenderInterceptor()
	statsF, _ := stats.NewInterceptor()
	for _, bc := range []struct {
		name string
		f    interceptor.Factory
	}{{"none", nil}, {"pion-report", pionSR}, {"senderreport", New(0, nil)}, {"pion-stats", statsF}} {
		b.Run(bc.name, func(b *testing.B) {
			w := interceptor.RTPWriter(nopRTP)
			if bc.f != nil {
				i, err := bc.f.NewInterceptor("x")
				if err != nil {
					b.Fatal(err)
				}
				defer i.Close()
				i.BindRTCPWriter(interceptor.RTCPWriterFunc(func([]rtcp.Packet, interceptor.Attributes) (int, error) { return 0, nil }))
				w = i.BindLocalStream(&interceptor.StreamInfo{SSRC: 1, ClockRate: 48000}, w)
			}
			h := &rtp.Header{Version: 2, PayloadType: 111, SSRC: 1}
			payload := make([]byte, 80)
			b.ReportAllocs()
			for b.Loop() {
				h.SequenceNumber++
				h.Timestamp += 960
				_, _ = w.Write(h, payload, nil)
			}
		})
	}
}

// A PeerConnection that sends many streams (a subscriber in a large room)
// gets its reports in several compound packets, none larger than
// MaxCompound: one 5 KB datagram would be fragmented on the way, and
// browsers drop RTCP packets over 2 KB (WebRTC's kMaxRtpPacketLen).
func TestManyStreamsSplitIntoPacketsThatFit(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	f := New(time.Hour, c.now)
	ii, _ := f.NewInterceptor("")
	defer ii.Close()
	out := &rtcpCapture{}
	ii.BindRTCPWriter(out)
	const streams = 200
	for ssrc := uint32(1); ssrc <= streams; ssrc++ {
		w := bind(t, ii, ssrc, 48000)
		_, _ = w.Write(&rtp.Header{SequenceNumber: 1, Timestamp: 1}, make([]byte, 80), nil)
	}
	f.Report()
	seen := map[uint32]bool{}
	for _, pkts := range out.writes {
		b, err := rtcp.Marshal(pkts)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > MaxCompound {
			t.Fatalf("a compound packet of %d bytes (%d reports), want at most %d", len(b), len(pkts), MaxCompound)
		}
		for _, p := range pkts {
			seen[p.(*rtcp.SenderReport).SSRC] = true
		}
	}
	if len(seen) != streams {
		t.Fatalf("reports for %d streams, want %d", len(seen), streams)
	}
}
