package netquality

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/switchboard-rtc/switchboard/internal/clocktest"
)

// feed writes packets with the given sequence numbers, 20 ms of Opus
// apart in both timestamp and arrival, from second 0 of t0.
func feed(s *RTPStats, seqs ...uint16) {
	payload := []byte{1, 2, 3}
	for i, seq := range seqs {
		h := rtp.Header{SequenceNumber: seq, Timestamp: 960 * uint32(seq), PayloadType: 111}
		_ = s.WriteRTPAt(&h, payload, t0.Add(time.Duration(i)*20*time.Millisecond))
	}
}

func run(from uint16, n int, skip func(uint16) bool) []uint16 {
	var out []uint16
	for i := range n {
		seq := from + uint16(i)
		if skip == nil || !skip(seq) {
			out = append(out, seq)
		}
	}
	return out
}

func TestRTPStatsLoss(t *testing.T) {
	every10th := func(seq uint16) bool { return seq%10 == 5 }
	for _, tc := range []struct {
		name      string
		seqs      []uint16
		loss      float64
		packets   int
		wantAlive bool
	}{
		{"no loss", run(0, 100, nil), 0, 100, true},
		{"10 %", run(0, 100, every10th), 10, 100, true},
		// Across the wrap 65535 → 0: 65500 to 63 is 100 packets.
		{"10 % across the wrap", run(65500, 100, every10th), 10, 100, true},
		// Reordered: 0 1 3 2 4 → nothing lost.
		{"reordered", []uint16{0, 1, 3, 2, 4}, 0, 5, true},
		// Reordered across the wrap.
		{"reordered across the wrap", []uint16{65534, 0, 65535, 1}, 0, 4, true},
		// A duplicate: 5 received of 4 expected → 0 loss, 5 packets.
		{"duplicate", []uint16{0, 1, 1, 2, 3}, 0, 5, true},
		// A lone stray far ahead is not a restart, and not counted.
		{"stray", []uint16{0, 1, 2, 40000, 3, 4}, 0, 5, true},
		// Two sequential packets after a jump are a restart (RFC 3550
		// A.1): 0–9 then 30000–30009; 30000 is taken for a stray and not
		// counted, 30001 restarts the count: 19 expected, 19 received.
		{"restart", append(run(0, 10, nil), run(30000, 10, nil)...), 0, 19, true},
		// A restart, then a loss in the new run.
		{"restart then loss", append(run(0, 10, nil), run(30000, 10, func(seq uint16) bool { return seq == 30005 })...), 100.0 / 19, 19, true},
		{"nothing", nil, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewRTPStats(RTPStatsConfig{MimeType: "audio/opus"})
			feed(s, tc.seqs...)
			got := s.Snapshot(t0.Add(time.Second))
			if math.Abs(got.LossPercent-tc.loss) > 1e-9 || got.Packets != tc.packets || got.Active != tc.wantAlive {
				t.Fatalf("%+v, want loss %v, packets %d, active %v", got, tc.loss, tc.packets, tc.wantAlive)
			}
			if got.LossWeight != WeightOpus || !got.At.Equal(t0.Add(time.Second)) || got.RTTMs != 0 {
				t.Fatalf("%+v", got)
			}
		})
	}
}

// Each Snapshot covers what arrived since the previous one.
func TestRTPStatsIntervals(t *testing.T) {
	s := NewRTPStats(RTPStatsConfig{})
	feed(s, run(0, 50, func(seq uint16) bool { return seq < 50 && seq%5 == 0 && seq > 0 })...) // 9 lost of 50
	if got := s.Snapshot(t0); got.Packets != 50 || math.Abs(got.LossPercent-18) > 1e-9 || got.LossWeight != WeightUnknown {
		t.Fatalf("first interval %+v", got)
	}
	feed(s, run(50, 50, nil)...)
	if got := s.Snapshot(t0); got.Packets != 50 || got.LossPercent != 0 || !got.Active {
		t.Fatalf("second interval %+v", got)
	}
	if got := s.Snapshot(t0); got.Active || got.Packets != 0 || got.LossPercent != 0 {
		t.Fatalf("an empty interval %+v", got)
	}
	// A loss late in an interval shows in it, and the packet arriving
	// late (reordered into the next) does not undo it there.
	feed(s, 100, 101, 103)
	if got := s.Snapshot(t0); got.Packets != 4 || got.LossPercent != 25 {
		t.Fatalf("interval with a gap %+v", got)
	}
	feed(s, 102, 104)
	if got := s.Snapshot(t0); got.Packets != 2 || got.LossPercent != 0 {
		t.Fatalf("interval with the late packet %+v", got)
	}
}

// Jitter follows RFC 3550 A.8: J += (|D| − J)/16, in ms at the clock rate.
func TestRTPStatsJitter(t *testing.T) {
	payload := []byte{1}
	write := func(s *RTPStats, seq uint16, ts uint32, pt uint8, arrival time.Duration, p []byte) {
		h := rtp.Header{SequenceNumber: seq, Timestamp: ts, PayloadType: pt}
		_ = s.WriteRTPAt(&h, p, t0.Add(arrival))
	}
	// Regular packets: no jitter.
	s := NewRTPStats(RTPStatsConfig{ClockRate: 48000})
	for i := range 50 {
		write(s, uint16(i), 960*uint32(i), 111, time.Duration(i)*20*time.Millisecond, payload)
	}
	if got := s.Snapshot(t0).JitterMs; got != 0 {
		t.Fatalf("jitter %v on a regular stream", got)
	}
	// Every other packet 10 ms late: |D| = 10 ms for every packet after
	// the first, so after n of them J = 10·(1 − (15/16)^n) ms.
	s = NewRTPStats(RTPStatsConfig{ClockRate: 48000, EventPayloadTypes: []uint8{110}})
	const n = 40
	for i := 0; i <= n; i++ {
		write(s, uint16(i), 960*uint32(i), 111, time.Duration(i)*20*time.Millisecond+time.Duration(i%2)*10*time.Millisecond, payload)
	}
	want := 10 * (1 - math.Pow(15.0/16, n))
	if got := s.Snapshot(t0).JitterMs; math.Abs(got-want) > 1e-9 {
		t.Fatalf("jitter %v ms, want %v", got, want)
	}
	// Telephone events (their timestamp stays at the tone's start) and
	// padding (empty payload) do not move it, but count as received.
	for i := n + 1; i <= n+10; i++ {
		write(s, uint16(i), 960*uint32(n), 110, time.Duration(i)*20*time.Millisecond, payload)
	}
	write(s, n+11, 0, 111, time.Duration(n+11)*20*time.Millisecond, nil)
	got := s.Snapshot(t0)
	if math.Abs(got.JitterMs-want) > 1e-9 || got.Packets != 11 || got.LossPercent != 0 {
		t.Fatalf("after events and padding: %+v, want jitter %v", got, want)
	}
	// A 90 kHz clock: D = 9 ms late once = 810 units → J = 9/16 ms.
	s = NewRTPStats(RTPStatsConfig{ClockRate: 90000})
	write(s, 0, 0, 96, 0, payload)
	write(s, 1, 3000, 96, (100*time.Millisecond)/3+9*time.Millisecond, payload)
	if got := s.Snapshot(t0).JitterMs; math.Abs(got-9.0/16) > 1e-6 {
		t.Fatalf("90 kHz jitter %v, want %v", got, 9.0/16)
	}
}

// WriteRTP stamps arrivals with the config's clock.
func TestRTPStatsClock(t *testing.T) {
	clk := clocktest.New(t0)
	s := NewRTPStats(RTPStatsConfig{ClockRate: 8000, MimeType: "audio/PCMU", Clock: clk})
	for i := range 10 {
		h := rtp.Header{SequenceNumber: uint16(i), Timestamp: 160 * uint32(i)}
		_ = s.WriteRTP(&h, []byte{1})
		clk.Advance(20*time.Millisecond + time.Duration(1-2*(i%2))*8*time.Millisecond) // 28, 12, 28, …: D = ±8 ms
	}
	got := s.Snapshot(clk.Now())
	if want := 8 * (1 - math.Pow(15.0/16, 9)); math.Abs(got.JitterMs-want) > 1e-9 || got.LossWeight != WeightG711 {
		t.Fatalf("%+v, want jitter %v", got, want)
	}
	if err := s.WriteRTP(nil, nil); err != nil {
		t.Fatal(err)
	}
}

// The per-packet path allocates nothing.
func TestRTPStatsWriteAllocatesNothing(t *testing.T) {
	s := NewRTPStats(RTPStatsConfig{ClockRate: 48000, MimeType: "audio/opus"})
	h := rtp.Header{PayloadType: 111}
	payload := make([]byte, 80)
	if n := testing.AllocsPerRun(10000, func() {
		h.SequenceNumber++
		h.Timestamp += 960
		_ = s.WriteRTP(&h, payload)
	}); n != 0 {
		t.Fatalf("%v allocations per packet", n)
	}
}

// One writer and concurrent readers: every packet is counted in exactly
// one interval (run with -race).
func TestRTPStatsConcurrentSnapshot(t *testing.T) {
	s := NewRTPStats(RTPStatsConfig{})
	const total = 20000
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		h := rtp.Header{}
		for i := range total {
			h.SequenceNumber, h.Timestamp = uint16(i), 960*uint32(i)
			if i%10 == 3 {
				continue // lost
			}
			_ = s.WriteRTPAt(&h, []byte{1}, t0.Add(time.Duration(i)*20*time.Millisecond))
		}
	}()
	var mu sync.Mutex
	lost, packets := 0.0, 0
	take := func() {
		got := s.Snapshot(t0)
		mu.Lock()
		lost += got.LossPercent * float64(got.Packets) / 100
		packets += got.Packets
		mu.Unlock()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
					take()
				}
			}
		}()
	}
	wg.Wait()
	take()
	// total−1 is the highest sequence number received (i = total−1 is not
	// a lost one), so total packets were expected and total/10 lost.
	if packets != total || math.Abs(lost-total/10) > 1e-6 {
		t.Fatalf("%d packets, %.3f lost over all intervals; want %d, %d", packets, lost, total, total/10)
	}
}
