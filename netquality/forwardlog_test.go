package netquality

import (
	"math"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/switchboard-rtc/switchboard/internal/clocktest"
)

// The log counts forwarded packets by sequence number, across the wrap,
// duplicates once, and forgets what is older than its size.
func TestForwardLog(t *testing.T) {
	var l ForwardLog
	if _, ok := l.Forwarded(0); ok {
		t.Fatal("an empty log holds sequence number 0")
	}
	for seq := uint16(65530); seq != 10; seq++ {
		if seq == 2 {
			continue // lost upstream: never forwarded
		}
		l.Record(seq)
	}
	l.Record(5) // a duplicate
	for seq, want := range map[uint16]uint64{65530: 1, 65535: 6, 0: 7, 1: 8, 3: 9, 9: 15} {
		if n, ok := l.Forwarded(seq); !ok || n != want {
			t.Errorf("Forwarded(%d) = %d %v, want %d", seq, n, ok, want)
		}
	}
	if _, ok := l.Forwarded(2); ok {
		t.Error("a sequence number never forwarded is in the log")
	}
	for seq := uint16(10); seq < 10+forwardLogSize; seq++ {
		l.Record(seq)
	}
	if _, ok := l.Forwarded(9); ok {
		t.Errorf("the log holds a packet %d packets old", forwardLogSize)
	}
	if n, ok := l.Forwarded(10); !ok || n != 16 {
		t.Errorf("Forwarded(10) = %d %v, want 16", n, ok)
	}
	if a := testing.AllocsPerRun(100, func() { l.Record(7) }); a != 0 {
		t.Errorf("Record allocates %v times", a)
	}
}

// With a forward log, a subscriber's reports count only the loss after the
// server: a gap the publisher's uplink made (or a muted stretch) is not the
// subscriber's, and its own loss is counted over the packets forwarded.
func TestReportStatsForwarded(t *testing.T) {
	var l ForwardLog
	s := NewReportStats(ReportStatsConfig{})
	s.TrackForwarded(7, 48000, "audio/opus", &l)
	block := func(seq, totalLost uint32, fraction uint8) []rtcp.Packet {
		return []rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{
			{SSRC: 7, LastSequenceNumber: seq, TotalLost: totalLost, FractionLost: fraction, Jitter: 96},
		}}}
	}
	forward := func(from, to uint32, skip func(uint32) bool) {
		for seq := from; seq <= to; seq++ {
			if !skip(seq) {
				l.Record(uint16(seq))
			}
		}
	}
	none := func(uint32) bool { return false }
	every10th := func(seq uint32) bool { return seq%10 == 0 }

	forward(1, 100, none)
	_ = s.WriteRTCPAt(block(100, 0, 0), t0)
	if got := s.Snapshot(t0); got.Active {
		t.Fatalf("the first block only sets the baseline: %+v", got)
	}

	// Upstream loss: every 10th packet never reached the server; the
	// subscriber reports them lost (25 of 250, 10 %), but got everything
	// the server forwarded.
	forward(101, 350, every10th)
	_ = s.WriteRTCPAt(block(350, 25, 25), t0.Add(time.Second))
	got := s.Snapshot(t0.Add(time.Second))
	if !got.Active || got.LossPercent != 0 || got.Packets != 225 || got.JitterMs != 2 {
		t.Fatalf("upstream loss counted downstream: %+v", got)
	}

	// Downstream loss: all 250 forwarded, 25 lost on the way.
	forward(351, 600, none)
	_ = s.WriteRTCPAt(block(600, 50, 25), t0.Add(2*time.Second))
	if got = s.Snapshot(t0.Add(2 * time.Second)); got.LossPercent != 10 || got.Packets != 250 {
		t.Fatalf("downstream loss: %+v, want 10 %% of 250", got)
	}

	// A muted stretch: 500 sequence numbers never forwarded, then 50 that
	// all arrive. The subscriber reports the 500 lost; none is its loss.
	forward(1101, 1150, none)
	_ = s.WriteRTCPAt(block(1150, 550, 232), t0.Add(3*time.Second))
	if got = s.Snapshot(t0.Add(3 * time.Second)); got.LossPercent != 0 || got.Packets != 50 {
		t.Fatalf("after a muted stretch: %+v", got)
	}

	// A block about sequence numbers the server never forwarded at all
	// (the subscriber's count moved, the log's did not): no sample.
	_ = s.WriteRTCPAt(block(1160, 560, 255), t0.Add(4*time.Second))
	if got = s.Snapshot(t0.Add(4 * time.Second)); got.Active {
		t.Fatalf("nothing forwarded, yet %+v", got)
	}

	// The log no longer holds the block's sequence number: the block's
	// fraction lost counts, over the sequence numbers it covers.
	forward(1161, 1161+forwardLogSize+10, none)
	_ = s.WriteRTCPAt(block(1170, 560, 64), t0.Add(5*time.Second))
	if got = s.Snapshot(t0.Add(5 * time.Second)); got.LossPercent != 25 || got.Packets != 10 {
		t.Fatalf("fallback: %+v", got)
	}
}

// A Monitor's uplink and downlink attachments share the stream's forward
// log by name: a publisher's 10 % uplink loss degrades its uplink only,
// not the downlink of a subscriber that got all the server forwarded.
func TestMonitorAttachStreams(t *testing.T) {
	clk := clocktest.New(t0)
	m, rec := newMonitor(t, Config{Clock: clk})
	m.Join("pub", "alice")
	m.Join("sub", "bob")
	write, detachUp, err := m.AttachUplink("pub", "pub/mic", "audio/opus", 48000, []uint8{126})
	if err != nil {
		t.Fatal(err)
	}
	report, detachDown, err := m.AttachDownlink("sub", "pub/mic", 9, "audio/opus", 48000)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.AttachUplink("nobody", "x", "audio/opus", 48000, nil); err == nil {
		t.Fatal("an uplink for a participant that has not joined")
	}
	if _, _, err := m.AttachDownlink("nobody", "x", 1, "audio/opus", 48000); err == nil {
		t.Fatal("a downlink for a participant that has not joined")
	}

	payload := make([]byte, 40)
	h := rtp.Header{SequenceNumber: 60000, PayloadType: 111}
	if a := testing.AllocsPerRun(100, func() { h.SequenceNumber++; _ = write(&h, payload) }); a != 0 {
		t.Errorf("the uplink write allocates %v times per packet", a)
	}
	seq := uint32(0)
	var lost uint32
	for sec := 1; sec <= 6; sec++ {
		for range 50 {
			seq++
			clk.Advance(20 * time.Millisecond)
			if seq%10 == 0 {
				lost++
				continue // lost on the publisher's uplink
			}
			h := rtp.Header{SequenceNumber: uint16(seq), Timestamp: 960 * seq, PayloadType: 111}
			if err := write(&h, payload); err != nil {
				t.Fatal(err)
			}
		}
		// The subscriber got all that was forwarded; it reports the
		// upstream gaps as lost.
		_ = report([]rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{
			{SSRC: 9, LastSequenceNumber: seq, TotalLost: lost, FractionLost: 25, Jitter: 48},
		}}})
		m.Tick(clk.Now())
	}
	up, _ := m.Report("pub")
	down, _ := m.Report("sub")
	t.Logf("publisher %+v; subscriber %+v", up, down)
	if up.Uplink.Level > LevelPoor || math.Abs(up.Uplink.LossPercent-10) > 0.5 {
		t.Errorf("the publisher's uplink %+v, want POOR or worse at 10 %% loss", up.Uplink)
	}
	if down.Downlink.Level != LevelExcellent || down.Downlink.LossPercent != 0 {
		t.Errorf("the subscriber's downlink %+v, want EXCELLENT without loss", down.Downlink)
	}
	if len(rec.take()) == 0 {
		t.Error("no change reported")
	}

	// The log is dropped once nothing uses it, also after Remove.
	m.Remove("pub")
	detachUp()
	detachUp()
	if len(m.logs) != 1 {
		t.Fatalf("%d logs while the downlink uses one", len(m.logs))
	}
	detachDown()
	if len(m.logs) != 0 {
		t.Fatalf("%d logs left", len(m.logs))
	}
}
