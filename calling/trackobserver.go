package calling

import (
	"context"

	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling/sfu"
)

// PublishedTrack is a track a participant publishes, as a TrackObserver
// learns of it. Its types are the standard library's, pion's and package
// sfu's, so a package that must not import calling can take one from the
// host.
type PublishedTrack struct {
	Account       string
	SessionID     string
	ParticipantID string
	Identity      string
	// CallID is the 1:1 call whose session this is; "" in a room.
	CallID      string
	StreamAlias string
	Kind        webrtc.RTPCodecType
	// Codec is the publisher's negotiated media codec and the payload type
	// it sends it with (Track.Codec).
	Codec webrtc.RTPCodecParameters
	// Track is the SFU's track: attach a sink to it (Track.Attach), ask it
	// for a keyframe (Track.RequestKeyframe).
	Track *sfu.Track
}

// TrackObserver learns of every track published on a Server, so a host can
// attach a sink (a recorder, a quality probe) to it without reaching into
// the SFU (Config.TrackObserver).
//
// TrackPublished is called once per track, when the publisher's answer
// puts it in its session (before its first packet; the sink then gets the
// track from its first packet on), and again with a new Track if the
// publisher then sends another codec than the one it negotiated first (the
// first track's ctx ends). ctx ends when the track ends: it is unpublished,
// its publisher leaves the session (a call's end, a leave, a disconnect,
// a replacing connection) or the server closes; by then the track is
// closed and its sinks detached, so ctx is the sink's cue to finish (close
// a file). TrackPublished is called on a goroutine of its own, never on
// the signaling or per-packet paths, so it may wait; but Server.Close waits
// for it to return, so return by the time ctx ends. Tracks are observed
// concurrently: implementations must be safe for concurrent use.
type TrackObserver interface {
	TrackPublished(ctx context.Context, t PublishedTrack)
}

// TrackObserverFunc adapts a function to TrackObserver.
type TrackObserverFunc func(ctx context.Context, t PublishedTrack)

// TrackPublished implements TrackObserver.
func (f TrackObserverFunc) TrackPublished(ctx context.Context, t PublishedTrack) { f(ctx, t) }

var _ TrackObserver = TrackObserverFunc(nil)
