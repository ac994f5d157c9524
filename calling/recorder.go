package calling

import (
	"context"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
)

// Recorder records calls and rooms for a Server (Config.Recorder). The
// Server knows when a call is answered, who joins and leaves a room, each
// participant's recording inputs and every published track; the Recorder
// applies the recording policy and writes the files. Its types are the
// standard library's, auth's and this package's, so a host adapts package
// recording to it in a few lines, and neither package imports the other.
// Implementations must be safe for concurrent use.
type Recorder interface {
	// StartRecording starts recording what req names when the policy says
	// so, and returns the running Recording. When the policy records
	// nothing it returns nil and an error that says why (for an on-demand
	// request, the REST API's answer; for an automatic start, the Server
	// only logs it at debug level) or nil and nil. The Server calls it off
	// the signaling path, at most once at a time for a call or room.
	StartRecording(ctx context.Context, req RecordingRequest) (Recording, error)
}

// Recording is one running recording of a call or room, as the Server
// drives it. Implementations must be safe for concurrent use.
type Recording interface {
	// Type is what is recorded, protocol.RecordingAudio or
	// protocol.RecordingAudioAndVideo: the participants' recordingStarted
	// carries it.
	Type() string
	// RecordTrack records a published track of the call or room until ctx
	// ends (the track ended: unpublished, its publisher left) or the
	// recording stops. It is called once per track, for the tracks present
	// when the recording starts and for every track published while it
	// runs; for the latter it is called on the publisher's connection loop
	// when the track is created, before its first packet, so the
	// recording has it whole. It must return at once: attach a sink to
	// t.Track (Track.Attach) and return.
	RecordTrack(ctx context.Context, t PublishedTrack)
	// Stop ends the recording and finishes its files. The Server calls it
	// once, on a goroutine of its own (it may take seconds: a mix of the
	// participants' audio is made then), when the call ends, the room
	// empties on this node, the REST API stops it or the server closes;
	// Server.Close waits for it to return.
	Stop(ctx context.Context)
}

// RecordingTarget names a call or a room to record: Account and exactly
// one of CallID and SessionID (a call is named by its id; naming its
// session does the same).
type RecordingTarget struct {
	Account   string
	CallID    string
	SessionID string
}

// RecordingRequest is what a Recorder decides on.
type RecordingRequest struct {
	Account string
	// CallID is the 1:1 call to record; "" for a room.
	CallID string
	// SessionID is the call's or the room's session.
	SessionID string
	// Parties are the participants: a call's caller (unless the REST API
	// placed the call) and callee; everyone connected to a room.
	Parties []RecordingParty
	// OnDemand: the REST API asked (Server.StartRecording) for Type, which
	// then stands for every party's CallOption. Otherwise the start is
	// automatic: a call being answered, a participant joining a room.
	OnDemand bool
	// Type asked for on demand: protocol.RecordingAudio or
	// protocol.RecordingAudioAndVideo.
	Type string
}

// RecordingParty is one participant's inputs to the recording policy.
type RecordingParty struct {
	// ParticipantID is empty for the parties of a call being answered
	// (their participants are made right after).
	ParticipantID string
	Identity      string
	// Option is the recording option of the party's token
	// (auth.Grants.Recording); empty: unset.
	Option auth.RecordingOption
	// CallOption is the recording option the party asked for: on call (the
	// caller), accept (the callee) or join (a room): "UNDEFINED", "AUDIO",
	// "AUDIO_AND_VIDEO", or "" when it asked for none.
	CallOption string
}

// RecordingEvent is a recording of a call or room starting or stopping,
// for hooks that implement RecordingHooks.
type RecordingEvent struct {
	Account string `json:"account"`
	// CallID is set for a call; SessionID for both a call and a room.
	CallID    string `json:"callId,omitempty"`
	SessionID string `json:"sessionId"`
	// Type is what is recorded: AUDIO or AUDIO_AND_VIDEO.
	Type string `json:"recordingType"`
	// Started: true when it started, false when it stopped.
	Started bool `json:"started"`
	// OnDemand: started through the REST API (not by the policy at the
	// call's answer or a room's join).
	OnDemand bool      `json:"onDemand"`
	At       time.Time `json:"at"`
}

// RecordingHooks is an optional interface of Hooks: hooks that also have
// this method learn when a recording starts and stops, in order with the
// call's events (a room's: with its participant events). *Webhooks
// implements it (event "recording").
type RecordingHooks interface {
	RecordingChanged(ctx context.Context, e RecordingEvent)
}
