package netquality

import (
	"math"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/switchboard-rtc/switchboard/internal/clocktest"
)

func TestNTP(t *testing.T) {
	epoch := time.Unix(0, 0)
	if got := NTPTime(epoch); got != 2208988800<<32 {
		t.Fatalf("NTPTime(Unix epoch) = %#x", got)
	}
	if got := NTPTime(time.Unix(1, 5e8)); got != (2208988801<<32 | 1<<31) {
		t.Fatalf("NTPTime(1.5 s) = %#x", got)
	}
	// The middle 32 bits: low 16 bits of the seconds, high 16 of the fraction.
	if got, want := NTPShort(time.Unix(1, 25e7)), uint32((2208988801&0xffff)<<16|0x4000); got != want {
		t.Fatalf("NTPShort(1.25 s) = %#x, want %#x", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	sr := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC) // our SR's NTP time
	lsr := NTPShort(sr)
	const dlsr = 1 << 15 // the reporter held it 0.5 s
	for _, tc := range []struct {
		name    string
		arrival uint32
		lsr     uint32
		want    time.Duration
		ok      bool
	}{
		{"120 ms", NTPShort(sr.Add(500*time.Millisecond + 120*time.Millisecond)), lsr, 120 * time.Millisecond, true},
		{"0", NTPShort(sr.Add(500 * time.Millisecond)), lsr, 0, true},
		{"no SR yet", NTPShort(sr.Add(time.Second)), 0, 0, false},
		{"negative", NTPShort(sr.Add(400 * time.Millisecond)), lsr, 0, false},
		// Across the wrap of the 16-bit seconds.
		// arrival 1.125 s past the wrap, LSR 1 s before it, DLSR 0.5 s.
		{"wrap", 0x00010000 + 0x2000, 0xffff0000, 1625 * time.Millisecond, true},
	} {
		got, ok := RoundTrip(tc.arrival, tc.lsr, dlsr)
		// NTP short has 1/65536 s (15.3 µs) resolution; each conversion
		// truncates.
		if ok != tc.ok || math.Abs(float64(got-tc.want)) > float64(2*time.Second/65536) {
			t.Errorf("%s: RoundTrip = %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// A receiver report built, marshalled and parsed as it travels.
func TestParseReport(t *testing.T) {
	sr := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	raw, err := (&rtcp.ReceiverReport{SSRC: 7, Reports: []rtcp.ReceptionReport{{
		SSRC: 1234, FractionLost: 64, TotalLost: 10, LastSequenceNumber: 1<<16 | 5,
		Jitter: 480, LastSenderReport: NTPShort(sr), Delay: 1 << 16, // 1 s
	}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pkts, err := rtcp.Unmarshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	blocks := ReportBlocks(pkts[0])
	if len(blocks) != 1 {
		t.Fatalf("%d blocks", len(blocks))
	}
	got := ParseReport(blocks[0], 48000, sr.Add(time.Second+80*time.Millisecond))
	// 64/256 = 25 %; 480 units at 48 kHz = 10 ms; 1.08 s − 1 s = 80 ms.
	if got.SSRC != 1234 || got.LossPercent != 25 || got.JitterMs != 10 || !got.HasRTT ||
		math.Abs(float64(got.RTT-80*time.Millisecond)) > float64(2*time.Second/65536) {
		t.Fatalf("%+v", got)
	}
	if got := ParseReport(rtcp.ReceptionReport{Jitter: 900}, 0, sr); got.JitterMs != 18.75 || got.HasRTT {
		t.Fatalf("default clock rate: %+v", got)
	}
	if got := ParseReport(rtcp.ReceptionReport{Jitter: 900}, 90000, sr); got.JitterMs != 10 {
		t.Fatalf("90 kHz: %+v", got)
	}
	if ReportBlocks(&rtcp.PictureLossIndication{}) != nil {
		t.Fatal("blocks from a PLI")
	}
	srp := &rtcp.SenderReport{Reports: []rtcp.ReceptionReport{{SSRC: 1}, {SSRC: 2}}}
	if len(ReportBlocks(srp)) != 2 {
		t.Fatal("an SR's blocks")
	}
}

// ReportStats: blocks about tracked streams, weighted by the packets each
// covers, duplicates once, the RTT from LSR/DLSR.
func TestReportStats(t *testing.T) {
	clk := clocktest.New(t0)
	s := NewReportStats(ReportStatsConfig{Clock: clk})
	const audio, video = 1111, 2222
	s.Track(audio, 48000, "audio/opus")
	s.Track(video, 90000, "video/VP8")
	lsr := NTPShort(t0)
	clk.Advance(40 * time.Millisecond) // the reports arrive 40 ms after our SR: RTT 40 ms − DLSR
	dlsr := uint32(20 * 65536 / 1000)  // 20 ms held
	block := func(ssrc uint32, fraction uint8, seq, jitter uint32) rtcp.ReceptionReport {
		return rtcp.ReceptionReport{SSRC: ssrc, FractionLost: fraction, LastSequenceNumber: seq, Jitter: jitter, LastSenderReport: lsr, Delay: dlsr}
	}

	// First blocks: the packets they cover are unknown, each weighs 1.
	_ = s.WriteRTCP([]rtcp.Packet{
		&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{block(audio, 0, 100, 240), block(9999, 255, 1, 1)}},
		&rtcp.SenderReport{Reports: []rtcp.ReceptionReport{block(video, 128, 1000, 900)}},
		&rtcp.PictureLossIndication{},
	})
	got := s.Snapshot(clk.Now())
	// loss (0 + 50)/2 = 25 %; jitter (5 ms + 10 ms)/2 = 7.5 ms; weight (1 + 2)/2.
	if !got.Active || got.LossPercent != 25 || got.JitterMs != 7.5 || got.LossWeight != 1.5 || got.Packets != 2 {
		t.Fatalf("first interval %+v", got)
	}
	if math.Abs(got.RTTMs-20) > 0.05 {
		t.Fatalf("RTT %v ms, want 20", got.RTTMs)
	}

	// Then: audio covers 50 packets at 0 %, video 150 at 25 %.
	pkts := []rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{block(audio, 0, 150, 480), block(video, 64, 1150, 1800)}}}
	_ = s.WriteRTCP(pkts)
	_ = s.WriteRTCP(pkts) // the same blocks again: counted once
	got = s.Snapshot(clk.Now())
	// loss 150·25/200 = 18.75; jitter (50·10 + 150·20)/200 = 17.5 ms;
	// weight (50·1 + 150·2)/200 = 1.75.
	if !got.Active || got.LossPercent != 18.75 || got.JitterMs != 17.5 || got.LossWeight != 1.75 || got.Packets != 200 {
		t.Fatalf("second interval %+v", got)
	}

	// No report: inactive, the latest RTT kept.
	got = s.Snapshot(clk.Now())
	if got.Active || math.Abs(got.RTTMs-20) > 0.05 {
		t.Fatalf("an empty interval %+v", got)
	}
	// Reports that show nothing sent (muted: the sequence number stands
	// still) are inactive.
	b := block(audio, 0, 150, 480)
	b.Delay++ // a fresh block, same sequence number
	_ = s.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{b}}})
	if got = s.Snapshot(clk.Now()); got.Active {
		t.Fatalf("a report with nothing sent %+v", got)
	}
	rtt, ok := s.RTT()
	if !ok || math.Abs(float64(rtt-20*time.Millisecond)) > float64(time.Millisecond)/10 {
		t.Fatalf("RTT() = %v %v", rtt, ok)
	}

	// An untracked stream's blocks are ignored.
	s.Untrack(video)
	_ = s.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{block(video, 255, 2000, 1)}}})
	if got = s.Snapshot(clk.Now()); got.Active {
		t.Fatalf("untracked %+v", got)
	}
}

func TestReportStatsNoRTT(t *testing.T) {
	s := NewReportStats(ReportStatsConfig{})
	s.Track(1, 0, "audio/opus")
	_ = s.WriteRTCPAt([]rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{SSRC: 1, Jitter: 48}}}}, t0)
	got := s.Snapshot(t0)
	if !got.Active || got.RTTMs != 0 || got.JitterMs != 1 {
		t.Fatalf("%+v", got)
	}
	if _, ok := s.RTT(); ok {
		t.Fatal("an RTT without an LSR")
	}
}
