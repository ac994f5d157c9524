package netquality

import (
	"math"
	"sync"
	"time"

	"github.com/pion/rtcp"
)

// ntpEpochOffset is the seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix).
const ntpEpochOffset = 2208988800

// NTPTime returns t in the 64-bit NTP format: seconds since 1900 in the
// high 32 bits, the fraction in the low 32. It is what a sender report
// carries, from the wall clock.
func NTPTime(t time.Time) uint64 {
	ns := t.UnixNano()
	sec := uint64(ns/1e9) + ntpEpochOffset
	frac := (uint64(ns%1e9) << 32) / 1e9
	return sec<<32 | frac
}

// NTPShort returns the middle 32 bits of NTPTime(t) (16.16 seconds): the
// format of a report block's LSR, and of the arrival time RoundTrip takes.
func NTPShort(t time.Time) uint32 { return uint32(NTPTime(t) >> 16) }

// RoundTrip returns the round-trip time a report block measures (RFC 3550
// 6.4.1): arrival − LSR − DLSR, all in NTP short format (1/65536 s), where
// arrival is when the block arrived (NTPShort of the wall clock) and LSR
// and DLSR are the block's LastSenderReport and Delay. It is false when
// LSR is 0 (the reporter had no sender report yet) or the result is
// negative (clocks or fields that do not agree).
func RoundTrip(arrival, lsr, dlsr uint32) (time.Duration, bool) {
	if lsr == 0 {
		return 0, false
	}
	rtt := int32(arrival - lsr - dlsr)
	if rtt < 0 {
		return 0, false
	}
	return time.Duration(int64(rtt) * int64(time.Second) >> 16), true
}

// Reception is a receiver report block in the units the score uses.
type Reception struct {
	SSRC        uint32        // the stream reported on
	LossPercent float64       // fraction lost since the reporter's previous report, in %
	JitterMs    float64       // interarrival jitter in ms
	RTT         time.Duration // round trip, when HasRTT
	HasRTT      bool
}

// ParseReport converts a report block about a stream of the given RTP
// clock rate (0 counts as 48000) that arrived at arrival (wall clock).
func ParseReport(r rtcp.ReceptionReport, clockRate uint32, arrival time.Time) Reception {
	if clockRate == 0 {
		clockRate = 48000
	}
	rec := Reception{
		SSRC:        r.SSRC,
		LossPercent: float64(r.FractionLost) * 100 / 256,
		JitterMs:    float64(r.Jitter) * 1000 / float64(clockRate),
	}
	rec.RTT, rec.HasRTT = RoundTrip(NTPShort(arrival), r.LastSenderReport, r.Delay)
	return rec
}

// ReportBlocks returns the report blocks of a sender or receiver report
// (nil for any other packet). A participant's SR and RR both carry blocks
// about the streams it receives.
func ReportBlocks(p rtcp.Packet) []rtcp.ReceptionReport {
	switch p := p.(type) {
	case *rtcp.ReceiverReport:
		return p.Reports
	case *rtcp.SenderReport:
		return p.Reports
	}
	return nil
}

// ReportStatsConfig configures a ReportStats. The zero value works.
type ReportStatsConfig struct {
	// Clock stamps arrivals in WriteRTCP. Default the real clock.
	Clock Clock
}

// ReportStats turns the RTCP reports one participant sends about the
// streams the server sends it into downlink Samples, and measures the
// participant's round trip (for both directions: the path is the same).
// Declare each stream sent to it with Track; blocks about other SSRCs are
// ignored, and a block repeated unchanged (the same packet read twice) is
// counted once.
//
// It is safe for concurrent use (a mutex; RTCP arrives a few times a
// second per stream).
type ReportStats struct {
	clock Clock

	mu      sync.Mutex
	streams map[uint32]*reportStream
	rtt     time.Duration // the latest measured
	hasRTT  bool
	// The interval since the last Snapshot.
	w, loss, jitter, lw float64
	active              bool
	rttSum              time.Duration
	rtts                int
}

type reportStream struct {
	nsPerUnit float64
	weight    float64
	last      rtcp.ReceptionReport
	seen      bool
	// With a log: the packets forwarded up to last's sequence number.
	log       *ForwardLog
	forwarded uint64
	hasFwd    bool
}

// NewReportStats returns an empty ReportStats.
func NewReportStats(cfg ReportStatsConfig) *ReportStats {
	return &ReportStats{clock: clockOr(cfg.Clock), streams: map[uint32]*reportStream{}}
}

// Track declares a stream sent to the participant: its SSRC (as the
// participant sees it), RTP clock rate (0 counts as 48000) and MIME type
// (for the loss weight). Tracking an SSRC again replaces it.
func (s *ReportStats) Track(ssrc, clockRate uint32, mimeType string) {
	if clockRate == 0 {
		clockRate = 48000
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streams[ssrc] = &reportStream{nsPerUnit: 1e9 / float64(clockRate), weight: CodecWeight(mimeType)}
}

// TrackForwarded is Track for a stream a server forwards from a publisher
// and records in log as it does (ForwardLog): the loss of a block is then
// the share of the packets forwarded in its interval that the participant
// did not get (from the block's extended highest sequence number and
// cumulative loss), so loss upstream of the server, and sequence numbers
// the server never sent (a muted stretch), do not count against the
// participant's downlink. A block whose sequence number the log no longer
// holds falls back to the block's fraction lost; the first block about the
// stream only sets the baseline.
func (s *ReportStats) TrackForwarded(ssrc, clockRate uint32, mimeType string, log *ForwardLog) {
	if clockRate == 0 {
		clockRate = 48000
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streams[ssrc] = &reportStream{nsPerUnit: 1e9 / float64(clockRate), weight: CodecWeight(mimeType), log: log}
}

// Untrack forgets a stream.
func (s *ReportStats) Untrack(ssrc uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.streams, ssrc)
}

// WriteRTCP records the report blocks of the sender and receiver reports
// in pkts, arriving now (by the config's clock). It never fails.
func (s *ReportStats) WriteRTCP(pkts []rtcp.Packet) error {
	return s.WriteRTCPAt(pkts, s.clock.Now())
}

// WriteRTCPAt records the report blocks in pkts as arriving at at (wall
// clock, for the round trip).
func (s *ReportStats) WriteRTCPAt(pkts []rtcp.Packet, at time.Time) error {
	arrival := NTPShort(at)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range pkts {
		for _, b := range ReportBlocks(p) {
			st := s.streams[b.SSRC]
			if st == nil || st.seen && b == st.last {
				continue
			}
			if rtt, ok := RoundTrip(arrival, b.LastSenderReport, b.Delay); ok {
				s.rtt, s.hasRTT = rtt, true
				s.rttSum += rtt
				s.rtts++
			}
			w, loss, ok := st.interval(b)
			if !ok {
				continue
			}
			s.w += w
			s.loss += w * loss
			s.jitter += w * float64(b.Jitter) * st.nsPerUnit / 1e6
			s.lw += w * st.weight
			s.active = true
		}
	}
	return nil
}

// interval takes block b as the stream's latest and returns the packets
// it covers since the previous block (its weight) and their loss in %;
// false when it covers none (nothing was sent or forwarded) or only sets
// the baseline.
func (st *reportStream) interval(b rtcp.ReceptionReport) (w, loss float64, ok bool) {
	prev, seen := st.last, st.seen
	st.last, st.seen = b, true
	prevFwd, hadFwd := st.forwarded, st.hasFwd
	if st.log != nil {
		st.forwarded, st.hasFwd = st.log.through(uint16(b.LastSequenceNumber))
	}
	if !seen {
		// The packets the first block covers are unknown: it weighs 1,
		// or with a log only sets the baseline.
		return 1, fractionPercent(b), st.log == nil
	}
	// The growth of the extended highest sequence number since the
	// previous block; none means nothing was sent.
	d := int32(b.LastSequenceNumber - prev.LastSequenceNumber)
	if d <= 0 {
		return 0, 0, false
	}
	if !hadFwd || !st.hasFwd || st.forwarded < prevFwd {
		return float64(d), fractionPercent(b), true
	}
	sent := int64(st.forwarded - prevFwd)
	if sent == 0 {
		return 0, 0, false // a gap the server never sent (muted, lost upstream)
	}
	// Received = expected − lost; the cumulative loss is a signed 24-bit
	// count (duplicates can make it shrink).
	lost := int64(int32((b.TotalLost-prev.TotalLost)<<8) >> 8)
	missing := min(max(sent-(int64(d)-lost), 0), sent)
	return float64(sent), 100 * float64(missing) / float64(sent), true
}

func fractionPercent(b rtcp.ReceptionReport) float64 { return float64(b.FractionLost) * 100 / 256 }

// RTT returns the latest round trip measured, and false before the first.
func (s *ReportStats) RTT() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rtt, s.hasRTT
}

// Snapshot returns the reports received since the previous Snapshot as a
// Sample at at: loss and jitter averaged over the blocks weighted by the
// packets each covers, the mean round trip of the interval (or the latest
// one), and Active when a block showed packets sent.
func (s *ReportStats) Snapshot(at time.Time) Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Sample{At: at, Active: s.active}
	if s.active {
		out.LossPercent, out.JitterMs, out.LossWeight = s.loss/s.w, s.jitter/s.w, s.lw/s.w
		out.Packets = int(math.Round(s.w))
	}
	switch {
	case s.rtts > 0:
		out.RTTMs = float64(s.rttSum) / float64(s.rtts) / 1e6
	case s.hasRTT:
		out.RTTMs = float64(s.rtt) / 1e6
	}
	s.w, s.loss, s.jitter, s.lw, s.active, s.rttSum, s.rtts = 0, 0, 0, 0, false, 0, 0
	return out
}
