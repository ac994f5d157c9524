package netquality

import "math"

// Stats are a Monitor's counters since New (metrics); the packet counts
// only grow.
type Stats struct {
	// Participants are the participants joined (scored).
	Participants int
	// Uplink and Downlink count, per direction, the packets the samples
	// covered and those lost (see DirectionStats).
	Uplink, Downlink DirectionStats
}

// DirectionStats count the packets of one direction's samples: the
// sources' snapshots taken by Tick and the samples given to Observe.
// Uplink (RTPStats on the published tracks): Packets are those the
// publishers' sequence numbers said were sent, Lost those that never
// reached the server (sequence gaps; late packets count as received).
// Downlink (subscribers' receiver reports, ReportStats): Packets are those
// the reports covered (with a ForwardLog, those the server forwarded),
// Lost those reported missing. Lost is each sample's Packets ×
// LossPercent, rounded, summed.
type DirectionStats struct {
	Packets, Lost uint64
}

// count adds an active sample of direction d; the caller holds m.mu.
func (m *Monitor) count(d Direction, s Sample) {
	if !d.valid() || !s.Active || !s.valid() || s.Packets <= 0 {
		return
	}
	c := &m.counts[d-1]
	c.Packets += uint64(s.Packets)
	if s.LossPercent > 0 {
		c.Lost += uint64(math.Round(float64(s.Packets) * min(s.LossPercent, 100) / 100))
	}
}

// Stats returns the Monitor's counters. Safe for concurrent use.
func (m *Monitor) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Stats{Participants: len(m.parts), Uplink: m.counts[0], Downlink: m.counts[1]}
}
