// Package sfu is Switchboard's media path: a published track (Track), its
// bindings to the PeerConnections that receive it, the retransmission
// cache shared by its subscribers, keyframe requests, the mapping of RFC
// 4733 telephone events across clock rates, and Sink, through which
// something that is not a PeerConnection (a recorder, a quality probe, a
// test) receives a published track. It knows nothing of calls, rooms,
// tokens or signaling: package calling decides who receives what and
// drives the tracks.
//
// A Track is made for the publisher's negotiated codec (NewTrack), added to
// each subscriber's PeerConnection as a webrtc.TrackLocal (pion calls Bind
// and Unbind), and fed by Forward with the publisher's *webrtc.TrackRemote
// on a goroutine of its own. A subscriber's RTCP about the track goes to a
// Feedback (Track.NewFeedback), whose HandleRTCP turns PLI and FIR into
// keyframe requests (at most one per TrackConfig.KeyframeInterval), answers
// NACKs from the shared cache and hands sender and receiver reports to an
// RTCPSink (a quality probe measuring the subscriber's downlink). The caller
// decides where HandleRTCP runs: package calling calls it on the goroutine
// pion already has for the subscriber's decrypted RTCP, so a subscriber
// costs no goroutine here; ReadRTCP and ReadRTCPTo are the same handling
// in a loop over an RTPSender's ReadRTCP, one goroutine per sender, for a
// host that builds its own webrtc.API.
//
// # The per-packet path
//
// Forward is the track's one reader goroutine. For each packet it reads it
// takes no lock, allocates nothing and logs nothing: the bindings and the
// sinks are immutable slices behind atomic pointers, replaced (copy on
// write, under a mutex) when a subscriber binds or unbinds or a sink is
// attached or detached; one read buffer and one header are reused. A
// packet is written to every binding in turn with that subscriber's SSRC
// and payload type (header extensions and padding removed, the payload
// not copied), then, only while a sink is attached, copied once into the
// sink queue: a ring of preallocated slots whose indices go over a
// buffered channel to the track's sink goroutine, which calls every sink
// with it. When the queue is full the packet is dropped for the sinks and
// counted (Track.Dropped); the reader never waits for a sink, so a slow or
// blocked sink cannot delay the PeerConnection subscribers. The packets and
// bytes written to subscribers are counted with two atomic adds per packet
// (Track.Stats, read at any time for metrics). A video packet
// is also copied into the retransmission cache (a mutex that only NACK
// answers contend for). A probe (Observe) is called right there on the
// reader goroutine, with no copy and no queue: it is for what only counts
// (a quality probe reading sequence numbers and timestamps), and must
// never wait.
//
// # Concurrency
//
// Track is safe for concurrent use. Forward runs on one goroutine (the
// caller's), which also calls the probes; a Feedback is used by one
// goroutine at a time, which also calls its RTCPSink (ReadRTCP runs one
// per subscriber); the sinks of a track are called on its sink goroutine,
// which Attach starts and Close ends. Bind, Unbind, Attach, Observe,
// detach, SetMuted, RequestKeyframe, NewFeedback and Close may be called
// from any goroutine. Close does not wait for a sink; a detach function
// waits for its sink's or probe's call in flight.
package sfu
