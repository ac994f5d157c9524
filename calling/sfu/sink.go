package sfu

import (
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// Sink receives the packets of a published Track beside its PeerConnection
// subscribers: a recorder, a quality probe, a server-side player, a test.
// Attach it with Track.Attach. The interface is the shape of a recording
// writer, so a type of another package satisfies it without importing sfu.
//
// What a sink sees. WriteRTP is called once for each packet the track
// forwards (not while it is muted), in the order the track reads them
// from the publisher, so a packet the publisher retransmits may come late
// or twice, and a packet lost on the way is a gap in the sequence numbers.
// The header is the publisher's, not a subscriber's: SSRC is the
// publisher's (Track.SSRC), PayloadType is the publisher's payload type
// (Track.Codec().PayloadType for media, one of Track.TelephoneEvents() for
// an RFC 4733 event), and SequenceNumber, Timestamp, Marker and CSRC are
// as the publisher sent them. Header extensions (their ids were negotiated
// with the publisher alone) and padding are removed; payload is the
// publisher's payload, byte for byte. A retransmission a PeerConnection
// subscriber asks for (NACK) is not written to sinks.
//
// The contract. WriteRTP is called on the track's sink goroutine, one per
// track and shared by its sinks, never on the goroutine that reads the
// publisher and writes to the PeerConnections; calls to one sink never
// overlap. header and payload are read-only and valid only during the
// call: they are the track's reused buffers, so copy what you keep.
// WriteRTP must not block: it should take a small fraction of the packet
// interval. A slow sink delays the other sinks of the same track and, once
// the track's sink queue is full, makes them all miss packets (counted by
// Track.Dropped); it never delays the PeerConnection subscribers, which are
// written before a packet is queued for the sinks. A sink that returns a
// non-nil error is detached: it is not called again (its detach function
// becomes a no-op). When the track closes, the packets still queued for its
// sinks are dropped and a sink is not called again (bar a call in flight).
// A sink need not be safe for concurrent use as far as the track goes.
//
// To learn the codec, ask the track (Track.Codec, Track.Kind); to ask the
// publisher for a keyframe, call Track.RequestKeyframe (attaching to a video
// track asks for one by itself); the track's end is Track.Done.
type Sink interface {
	WriteRTP(header *rtp.Header, payload []byte) error
}

// attachment is one Attach: a sink and whether it has been detached. mu is
// held during each call of the sink, so detach can wait for the call in
// flight.
type attachment struct {
	sink Sink
	gone atomic.Bool
	mu   sync.Mutex
}

// write calls the sink unless it is detached, and reports whether the sink
// failed (and is now detached).
func (a *attachment) write(h *rtp.Header, payload []byte) (failed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gone.Load() {
		return false
	}
	if err := a.sink.WriteRTP(h, payload); err != nil {
		a.gone.Store(true)
		return true
	}
	return false
}

// detach stops the calls and waits for the call in flight.
func (a *attachment) detach() {
	a.gone.Store(true)
	a.mu.Lock() // taken once the call in flight (if any) has returned
	a.mu.Unlock()
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(header *rtp.Header, payload []byte) error

// WriteRTP implements Sink.
func (f SinkFunc) WriteRTP(header *rtp.Header, payload []byte) error { return f(header, payload) }

var _ Sink = SinkFunc(nil)

// RTCPSink receives the RTCP reports a subscriber sends about the tracks
// it receives (Track.ReadRTCPTo): a quality probe that reads the
// subscriber's receiver reports (fraction lost, jitter, round trip). Its
// method has the shape of a statistics writer, so a type of another
// package satisfies it without importing sfu.
type RTCPSink interface {
	WriteRTCP(pkts []rtcp.Packet) error
}

// RTCPSinkFunc adapts a function to RTCPSink.
type RTCPSinkFunc func(pkts []rtcp.Packet) error

// WriteRTCP implements RTCPSink.
func (f RTCPSinkFunc) WriteRTCP(pkts []rtcp.Packet) error { return f(pkts) }

var _ RTCPSink = RTCPSinkFunc(nil)
