package calling

import (
	"context"
	"sync"

	"github.com/switchboard-rtc/switchboard/calling/sfu"
)

// pubTrack is a track a peer publishes: the SFU's track (which subscribers'
// PeerConnections and sinks receive) and what calling keeps beside it.
// owner and alias are fixed; forwarding is its publisher's loop's; stop is
// set before the track is shared.
type pubTrack struct {
	*sfu.Track
	owner      *peer
	alias      string
	forwarding bool // Forward runs (loop only)
	// ctx ends when the track does (stop, from close): the context the
	// TrackObserver and the Recorder get. Nil without either.
	ctx  context.Context
	stop context.CancelFunc
	// info is the track as the TrackObserver and the Recorder see it.
	info PublishedTrack

	qmu     sync.Mutex // guards the uplink measurement (Config.Quality)
	qstop   func()     // detaches it; nil while not measured
	qclosed bool       // the track has closed: measure no more
}

// close ends the track (nothing more is forwarded, its sinks are detached)
// and then its observer's context. Safe to call more than once, from any
// goroutine.
func (pt *pubTrack) close() {
	pt.stopUplink(true)
	pt.Track.Close()
	pt.owner.srv.stats.trackClosed(pt.Track)
	if pt.stop != nil {
		pt.stop()
	}
}
