package sfu

import (
	"math/bits"
	"sync/atomic"

	"github.com/pion/rtcp"
)

// TrackStats are the counters of a Track since NewTrack (metrics). They
// only grow; Add sums the counters of several tracks.
type TrackStats struct {
	// ForwardedPackets are the packets written to subscribers'
	// PeerConnections without an error (a publisher's packet sent to three
	// subscribers counts three); ForwardedBytes are their RTP payload
	// bytes (headers and SRTP not included). Sinks are not counted.
	ForwardedPackets, ForwardedBytes uint64
	// NACKs are the subscribers' generic NACK messages the track answered
	// (video tracks, while neither muted nor closed); NACKedPackets the
	// sequence numbers they asked for; Retransmitted the packets sent
	// again from the retransmission cache in answer.
	NACKs, NACKedPackets, Retransmitted uint64
	// SinkDropped are the packets the sinks missed because the sink queue
	// was full (Dropped).
	SinkDropped uint64
}

// Add adds o's counters to s.
func (s *TrackStats) Add(o TrackStats) {
	s.ForwardedPackets += o.ForwardedPackets
	s.ForwardedBytes += o.ForwardedBytes
	s.NACKs += o.NACKs
	s.NACKedPackets += o.NACKedPackets
	s.Retransmitted += o.Retransmitted
	s.SinkDropped += o.SinkDropped
}

// trackCounters are a Track's counters. The forward counters are written
// by the reader goroutine alone (one atomic add each per packet: no lock,
// no allocation), the NACK counters by the subscribers' RTCP goroutines;
// Stats reads them at any time.
type trackCounters struct {
	packets, bytes                   atomic.Uint64
	fwdPackets, fwdBytes             atomic.Uint64
	nacks, nackedPkts, retransmitted atomic.Uint64
}

// Stats returns the track's counters. Safe to call at any time, from any
// goroutine; the counters of a packet being forwarded while Stats runs may
// or may not be included.
func (t *Track) Stats() TrackStats {
	c := &t.counters
	return TrackStats{
		ForwardedPackets: c.fwdPackets.Load(), ForwardedBytes: c.fwdBytes.Load(),
		NACKs: c.nacks.Load(), NACKedPackets: c.nackedPkts.Load(), Retransmitted: c.retransmitted.Load(),
		SinkDropped: t.Dropped(),
	}
}

// countForward counts one publisher packet of size payload bytes written
// to n subscribers (the reader goroutine).
func (c *trackCounters) countForward(n, payload int) {
	if n > 0 {
		c.fwdPackets.Add(uint64(n))
		c.fwdBytes.Add(uint64(n * payload))
	}
}

// countNACK counts a NACK message (its sequence numbers, without
// allocating) and the packets sent again in answer.
func (c *trackCounters) countNACK(nack *rtcp.TransportLayerNack, sent int) {
	asked := 0
	for _, p := range nack.Nacks {
		asked += 1 + bits.OnesCount16(uint16(p.LostPackets))
	}
	c.nacks.Add(1)
	c.nackedPkts.Add(uint64(asked))
	c.retransmitted.Add(uint64(sent))
}
