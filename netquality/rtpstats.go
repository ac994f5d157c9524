package netquality

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// RTPStatsConfig describes the stream an RTPStats watches. The zero value
// is a 48 kHz stream of unknown codec on the real clock.
type RTPStatsConfig struct {
	// ClockRate is the RTP clock rate of the stream's codec, in Hz, to
	// turn timestamps into time for the jitter. Default 48000 (Opus).
	ClockRate uint32
	// MimeType is the codec's MIME type ("audio/opus"), which sets the
	// samples' LossWeight (CodecWeight). Default: unknown (weight 2).
	MimeType string
	// EventPayloadTypes are payload types that share the stream but not
	// its timing: RFC 4733 telephone events, whose timestamp marks the
	// start of the tone. Their packets count for loss but not for jitter.
	// Default none.
	EventPayloadTypes []uint8
	// Clock stamps arrivals in WriteRTP. Default the real clock.
	Clock Clock
}

// RTPStats counts one received RTP stream: packets expected (from the
// extended highest sequence number, RFC 3550 A.1 and A.3, including wrap
// and restarts) and received, and the interarrival jitter (RFC 3550 A.8).
// Its WriteRTP has the shape of an SFU sink, so it is attached to a
// published track as one; Snapshot turns what arrived since the previous
// Snapshot into a Sample.
//
// One goroutine writes (WriteRTP or WriteRTPAt, the track's reader) and any
// number read (Snapshot): the write path takes no lock and allocates
// nothing; it publishes its counters with two atomic stores.
type RTPStats struct {
	clock  Clock // nil: the real clock, read as time.Since(base)
	base   time.Time
	nsPer  float64 // nanoseconds per RTP timestamp unit
	weight float64
	events [4]uint64 // bitmap of EventPayloadTypes

	// The writer's state (only the writing goroutine touches it).
	started   bool
	maxSeq    uint16
	cycles    uint32 // sequence number cycles, shifted (count << 16)
	baseSeq   uint32 // extended base of the current run
	badSeq    uint32 // RFC 3550 A.1: the sequence number after a big jump
	expBefore uint32 // packets expected in runs before a restart
	received  uint32
	jitterNs  float64
	ref       bool // lastAt and lastTS hold a media packet
	lastTS    uint32
	lastAt    time.Duration // since base

	// Published by the writer: expected<<32 | received, cumulative; and
	// the jitter in ns as float64 bits.
	counts atomic.Uint64
	jitter atomic.Uint64

	// The readers' state.
	mu               sync.Mutex
	prevExp, prevRec uint32
}

const (
	maxDropout  = 3000 // RFC 3550 A.1
	maxMisorder = 100
	seqMod      = 1 << 16
)

// NewRTPStats returns an RTPStats for a stream described by cfg.
func NewRTPStats(cfg RTPStatsConfig) *RTPStats {
	rate := cfg.ClockRate
	if rate == 0 {
		rate = 48000
	}
	r := &RTPStats{clock: cfg.Clock, nsPer: 1e9 / float64(rate), weight: CodecWeight(cfg.MimeType)}
	if r.clock == nil {
		r.base = time.Now()
	} else {
		r.base = r.clock.Now()
	}
	for _, pt := range cfg.EventPayloadTypes {
		r.events[pt>>6] |= 1 << (pt & 63)
	}
	return r
}

// WriteRTP records a packet arriving now (by the config's clock). It never
// fails, never blocks and keeps neither h nor payload.
func (r *RTPStats) WriteRTP(h *rtp.Header, payload []byte) error {
	if r.clock == nil {
		// One monotonic clock read: half the cost of time.Now.
		return r.write(h, payload, time.Since(r.base))
	}
	return r.write(h, payload, r.clock.Now().Sub(r.base))
}

// WriteRTPAt records a packet that arrived at at. Arrival times must come
// from one clock (a monotonic reading is used when at has one). Packets
// with an empty payload (padding probes) count for loss but not jitter.
func (r *RTPStats) WriteRTPAt(h *rtp.Header, payload []byte, at time.Time) error {
	return r.write(h, payload, at.Sub(r.base))
}

// write records a packet that arrived at elapsed since base.
func (r *RTPStats) write(h *rtp.Header, payload []byte, at time.Duration) error {
	if h == nil {
		return nil
	}
	seq := h.SequenceNumber
	if !r.started {
		r.started = true
		r.restart(seq)
	} else if delta := seq - r.maxSeq; delta < maxDropout {
		if seq < r.maxSeq {
			r.cycles += seqMod // wrapped
		}
		r.maxSeq = seq
	} else if delta <= seqMod-maxMisorder {
		// A very large jump: the sender restarted, or this is a stray.
		// Two sequential packets confirm a restart (RFC 3550 A.1).
		if uint32(seq) != r.badSeq {
			r.badSeq = (uint32(seq) + 1) & (seqMod - 1)
			return nil
		}
		r.expBefore = r.expected()
		r.restart(seq)
		r.ref = false
	} // else: a duplicate or reordered packet; it counts as received
	r.received++

	if len(payload) > 0 && r.events[h.PayloadType>>6]&(1<<(h.PayloadType&63)) == 0 {
		if r.ref {
			// D(i,j) = (Rj − Ri) − (Sj − Si), in ns.
			d := float64(at-r.lastAt) - float64(int32(h.Timestamp-r.lastTS))*r.nsPer
			r.jitterNs += (math.Abs(d) - r.jitterNs) / 16
			r.jitter.Store(math.Float64bits(r.jitterNs))
		}
		r.ref, r.lastTS, r.lastAt = true, h.Timestamp, at
	}
	r.counts.Store(uint64(r.expected())<<32 | uint64(r.received))
	return nil
}

func (r *RTPStats) restart(seq uint16) {
	r.baseSeq, r.maxSeq, r.cycles = uint32(seq), seq, 0
	r.badSeq = seqMod + 1 // matches no sequence number
}

// expected is the cumulative count of packets expected, over all runs.
func (r *RTPStats) expected() uint32 {
	return r.expBefore + (r.cycles + uint32(r.maxSeq)) - r.baseSeq + 1
}

// Snapshot returns what arrived since the previous Snapshot (or since the
// start) as a Sample at at: the loss among the packets expected in the
// interval, the current jitter, and Active when at least one packet
// arrived. RTTMs is 0 (RTP alone does not measure it).
func (r *RTPStats) Snapshot(at time.Time) Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.counts.Load()
	exp, rec := uint32(c>>32), uint32(c)
	de, dr := exp-r.prevExp, rec-r.prevRec
	r.prevExp, r.prevRec = exp, rec
	s := Sample{
		At:         at,
		Active:     dr > 0,
		JitterMs:   math.Float64frombits(r.jitter.Load()) / 1e6,
		LossWeight: r.weight,
		Packets:    int(max(de, dr)),
	}
	if de > dr {
		s.LossPercent = 100 * float64(de-dr) / float64(de)
	}
	return s
}
