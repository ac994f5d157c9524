package calling

import (
	"cmp"
	"sync"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/calling/sfu"
)

// Stats is a snapshot of what a Server holds and has done on this node,
// for metrics (adapters/prometheus reads it at each scrape). Counts
// (int) are the current values; the uint64 counters only grow from New.
// It names no account, identity or id.
type Stats struct {
	// Connections are the open signaling connections.
	Connections int
	// Rooms are the sessions with at least one participant connected
	// here, 1:1 calls' sessions not included; CallSessions are the
	// sessions of 1:1 calls with a party connected here.
	Rooms, CallSessions int
	// Participants are the participants connected in those sessions (a
	// connection that has joined one).
	Participants int
	// Calls are the calls in progress (neither ended nor failed) by
	// state; every such state is present, zero or not.
	Calls map[protocol.CallState]int
	// CallsEnded counts the calls that ended or failed, by final state
	// and cause.
	CallsEnded map[CallEnd]uint64
	// TracksPublished counts the published tracks; Tracks are those not
	// closed yet (unpublished, or their publisher left).
	TracksPublished uint64
	Tracks          int
	// Media sums the counters of every track published since New
	// (sfu.Track.Stats): packets and payload bytes forwarded to
	// subscribers, NACKs and retransmissions, sink drops. A packet in
	// flight when its track closes may go uncounted.
	Media sfu.TrackStats
	// Quality counts the participants Config.Quality scores, by direction
	// (protocol.DirectionUplink, DirectionDownlink) and level
	// (protocol.QualityExcellent ... QualityBad, QualityUnknown before a
	// direction's first level); nil without Config.Quality.
	Quality map[QualityLevel]int
}

// CallEnd is how a call finished: protocol.StateEnded or StateFailed, and
// the cause.
type CallEnd struct {
	State protocol.CallState
	Cause protocol.Cause
}

// QualityLevel is a direction of a participant's network quality and its
// level (Stats.Quality).
type QualityLevel struct {
	Direction, Level string
}

// serverStats are the counters a Server keeps for Stats beyond what its
// maps already hold. Nothing here is on the per-packet path: tracks are
// registered when published and retired when closed.
type serverStats struct {
	mu        sync.Mutex
	ended     map[CallEnd]uint64
	tracks    map[*sfu.Track]struct{} // published and not closed
	published uint64
	retired   sfu.TrackStats // the final counters of the closed tracks
}

// callChanged counts a call that ended or failed (c.mu held; any state
// may be passed).
func (st *serverStats) callChanged(to protocol.CallState, cause protocol.Cause) {
	if to != protocol.StateEnded && to != protocol.StateFailed {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ended == nil {
		st.ended = map[CallEnd]uint64{}
	}
	st.ended[CallEnd{to, cause}]++
}

// trackPublished registers a new published track.
func (st *serverStats) trackPublished(t *sfu.Track) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.tracks == nil {
		st.tracks = map[*sfu.Track]struct{}{}
	}
	st.tracks[t] = struct{}{}
	st.published++
}

// trackClosed moves a closed track's counters into the retired totals,
// once however often it is called. The track is closed first, so its
// counters no longer grow (but for a packet in flight).
func (st *serverStats) trackClosed(t *sfu.Track) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.tracks[t]; !ok {
		return
	}
	delete(st.tracks, t)
	st.retired.Add(t.Stats())
}

// Stats returns a snapshot of the Server's activity (see Stats). It takes
// the Server's locks briefly, one at a time, and costs time in proportion
// to the rooms, calls and tracks held: call it at a scrape, not per event.
// Safe for concurrent use.
func (s *Server) Stats() Stats {
	out := Stats{Calls: map[protocol.CallState]int{}, CallsEnded: map[CallEnd]uint64{}}
	s.stats.mu.Lock()
	for e, n := range s.stats.ended {
		out.CallsEnded[e] = n
	}
	out.TracksPublished, out.Tracks, out.Media = s.stats.published, len(s.stats.tracks), s.stats.retired
	for t := range s.stats.tracks {
		out.Media.Add(t.Stats())
	}
	s.stats.mu.Unlock()

	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		if r.call {
			out.CallSessions++
		} else {
			out.Rooms++
		}
		out.Participants += len(r.peers)
		r.mu.Unlock()
	}

	s.callsMu.Lock()
	out.Connections = len(s.peers)
	calls := make([]*Call, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.callsMu.Unlock()
	for _, st := range []protocol.CallState{protocol.StateConnecting, protocol.StateRinging, protocol.StateAccepted, protocol.StateConfirmed} {
		out.Calls[st] = 0
	}
	for _, c := range calls { // c.mu is taken after callsMu is released (setState holds c.mu, then callsMu)
		if st, _ := c.State(); st != protocol.StateEnded && st != protocol.StateFailed {
			out.Calls[st]++
		}
	}

	if s.cfg.Quality != nil {
		out.Quality = map[QualityLevel]int{}
		s.quality.mu.Lock()
		for _, qp := range s.quality.parts {
			out.Quality[QualityLevel{protocol.DirectionUplink, cmp.Or(qp.up, protocol.QualityUnknown)}]++
			out.Quality[QualityLevel{protocol.DirectionDownlink, cmp.Or(qp.down, protocol.QualityUnknown)}]++
		}
		s.quality.mu.Unlock()
	}
	return out
}
