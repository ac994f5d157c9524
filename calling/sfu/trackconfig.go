package sfu

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// DefaultKeyframeInterval is the least time between two keyframe requests
// a Track sends its publisher (TrackConfig.KeyframeInterval).
const DefaultKeyframeInterval = 500 * time.Millisecond

// Clock is the time source of a Track (its keyframe request rate limit).
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// TrackConfig configures a Track. Codec is required; every other field has
// the documented default.
type TrackConfig struct {
	// ID is the track's id in subscribers' SDP (a=msid); Switchboard uses
	// the stream alias. Default "".
	ID string
	// StreamID is the stream id in subscribers' SDP (a=msid); Switchboard
	// uses the publisher's participant id. Default "".
	StreamID string
	// Codec is the publisher's media codec as negotiated, with the payload
	// type the publisher sends it with. Its MIME type (audio/… or video/…)
	// makes the track's Kind. Required.
	Codec webrtc.RTPCodecParameters
	// Negotiated are all the codecs negotiated with the publisher for this
	// track (its receiver's parameters). Their RFC 4733 telephone-event
	// payload types are forwarded too, each mapped to the subscriber's
	// telephone-event payload type of the same clock rate (and not sent to
	// a subscriber that has none at that rate). Default: none.
	Negotiated []webrtc.RTPCodecParameters
	// Keyframe asks the publisher for a keyframe of its stream ssrc (a PLI
	// on the publisher's PeerConnection). It is called at most once per
	// KeyframeInterval, on the goroutine that asked (a subscriber's bind or
	// RTCP reader, Attach, RequestKeyframe, Forward's start), never on the
	// per-packet path, and must not block. Default: keyframes are never
	// requested.
	Keyframe func(ssrc uint32)
	// KeyframeInterval is the least time between two keyframe requests.
	// Default DefaultKeyframeInterval.
	KeyframeInterval time.Duration
	// Muted starts the track muted (nothing forwarded). Default false.
	Muted bool
	// SinkQueue is how many packets wait for the sinks before a slow sink
	// makes them miss packets; about 1.6 KiB each, allocated at the first
	// Attach. Default DefaultAudioSinkQueue or DefaultVideoSinkQueue.
	SinkQueue int
	// Clock is the time of the keyframe rate limit. Default: the real clock.
	Clock Clock
	// Batch brackets each packet's fan-out (and each NACK's answer) so
	// that the datagrams written to subscribers can leave the socket
	// together. Default: none.
	Batch Batcher
}

// Batcher gathers the datagrams written between Begin and End and sends
// them at End (calling's UDP sockets do, with one sendmmsg). Begin and
// End are called in pairs on the goroutine that writes, around writes
// that never wait for the network; they must be safe for concurrent use
// (every track's goroutine uses the same Batcher).
type Batcher interface {
	Begin()
	End()
}
