package netquality

import (
	"math"
	"time"
)

// Sample is one interval's statistics of one direction of one participant,
// usually a second's worth. RTPStats.Snapshot and ReportStats.Snapshot
// make them; a host that measures its own statistics fills one in.
type Sample struct {
	// At is the end of the interval. An Estimator windows by it.
	At time.Time
	// Active is false when nothing was sent or reported in the interval
	// (muted, Opus DTX silence, no stream): such a sample is not scored,
	// and the level stays as it was.
	Active bool
	// LossPercent is the share of the interval's packets lost, 0 to 100.
	LossPercent float64
	// JitterMs is the interarrival jitter (RFC 3550), in milliseconds.
	JitterMs float64
	// RTTMs is the round-trip time in milliseconds; 0 or less means not
	// measured (a window averages the samples that have one, and a Monitor
	// fills it in from the participant's other direction).
	RTTMs float64
	// LossWeight is the codec's loss weight (CodecWeight): 1 for Opus, 2
	// for G.711. 0 counts as an unknown codec (2).
	LossWeight float64
	// Packets is how many packets LossPercent and JitterMs are over (the
	// packets expected in the interval). A window weights samples by it, so
	// a second of DTX with three packets, one lost, does not read as 33 %
	// loss for the whole window. 0 means unknown and weighs as 1.
	Packets int
}

// valid reports whether s's numbers are finite.
func (s Sample) valid() bool {
	for _, v := range [...]float64{s.LossPercent, s.JitterMs, s.RTTMs, s.LossWeight} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

func (s Sample) weight() float64 {
	if s.Packets > 0 {
		return float64(s.Packets)
	}
	return 1
}

func (s Sample) lossWeight() float64 {
	if s.LossWeight > 0 {
		return s.LossWeight
	}
	return WeightUnknown
}

// Merge combines samples of the same interval and direction from several
// streams (a participant's microphone and camera, or the receiver reports
// about every stream sent to it) into one: loss, jitter and loss weight
// are averaged weighted by Packets, the RTT is the largest measured, At the
// latest. Inactive samples are left out; with no active sample the result
// is inactive.
func Merge(samples ...Sample) Sample {
	var out Sample
	var w, loss, jitter, lw float64
	for _, s := range samples {
		if s.At.After(out.At) {
			out.At = s.At
		}
		if !s.Active || !s.valid() {
			continue
		}
		sw := s.weight()
		w += sw
		loss += sw * s.LossPercent
		jitter += sw * s.JitterMs
		lw += sw * s.lossWeight()
		out.RTTMs = math.Max(out.RTTMs, s.RTTMs)
		out.Packets += s.Packets
		out.Active = true
	}
	if out.Active {
		out.LossPercent, out.JitterMs, out.LossWeight = loss/w, jitter/w, lw/w
	}
	return out
}
