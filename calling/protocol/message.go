package protocol

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// Message types of the signaling protocol (docs/protocol.md has an example
// of each). Client to server: join, publish, unpublish, mute, answer,
// candidate, leave, ping. Server to client: joined, offer, candidate,
// participantJoined, participantLeft, muted, error, pong, bye,
// networkQuality, participantNetworkQuality.
const (
	TypeJoin              = "join"
	TypePublish           = "publish"
	TypeUnpublish         = "unpublish"
	TypeMute              = "mute"
	TypeAnswer            = "answer"
	TypeCandidate         = "candidate"
	TypeLeave             = "leave"
	TypePing              = "ping"
	TypeJoined            = "joined"
	TypeOffer             = "offer"
	TypeParticipantJoined = "participantJoined"
	TypeParticipantLeft   = "participantLeft"
	TypeMuted             = "muted"
	TypeError             = "error"
	TypePong              = "pong"
	TypeBye               = "bye"
	// TypeStatus is the server's first message on an accepted connection
	// (status "connected", the identity, whether it may receive calls).
	TypeStatus = "status"

	// 1:1 calls. Client to server: call, accept, reject, hangup, hold, dtmf.
	// Server to client: incoming, callState, holdStateChanged, dtmf.
	TypeCall        = "call"
	TypeAccept      = "accept"
	TypeReject      = "reject"
	TypeHangup      = "hangup"
	TypeHold        = "hold"
	TypeDTMF        = "dtmf"
	TypeIncoming    = "incoming"
	TypeCallState   = "callState"
	TypeHoldChanged = "holdStateChanged"

	// Tokens on an open connection. Client to server: refresh (a new token
	// for the same identity and account). Server to client: refreshed (its
	// expiry), left (the session was left because a refreshed token no
	// longer grants it), unpublished (a stream stopped because a refreshed
	// token no longer allows its kind).
	TypeRefresh     = "refresh"
	TypeRefreshed   = "refreshed"
	TypeLeft        = "left"
	TypeUnpublished = "unpublished"

	// Network quality, server to client: networkQuality (to a participant,
	// about its own network, when a direction's level changes: Level and
	// MOS overall, Uplink and Downlink) and participantNetworkQuality (to
	// the others in its call or room: ParticipantID, Identity, Direction
	// and that direction's Level).
	TypeNetworkQuality            = "networkQuality"
	TypeParticipantNetworkQuality = "participantNetworkQuality"

	// TypeReconnect, server to client: the server is draining (Reason
	// ReasonDraining) and is about to close this connection with 1012
	// (service restart); connect again to URL, or to the same URL when it
	// is empty. Calls and rooms are not carried over: the client joins or
	// calls again on the new connection.
	TypeReconnect = "reconnect"
)

// Message is one signaling message. Which fields are set depends on Type.
// A Message is a plain value: not safe for concurrent mutation.
type Message struct {
	Type string `json:"type"`
	// ID correlates a request with its reply (joined, error). At most
	// MaxIDBytes.
	ID string `json:"id,omitempty"`

	// join: Room (by name) or SessionID (a session the REST API put the participant in).
	Room      string `json:"room,omitempty"`
	SessionID string `json:"sessionId,omitempty"`
	// join: Options may carry the recording option (Options.Recording, the
	// room's call option of the recording policy); nothing else of it is read.
	// join, publish: tracks the client publishes.
	Publish []Publication `json:"publish,omitempty"`
	// join, call, accept: false asks the server to open no data channel on
	// this connection's PeerConnection (no data messages or broadcasts reach
	// it; the server saves an SCTP association). Absent or true: it opens one.
	DataChannel *bool `json:"dataChannel,omitempty"`
	// unpublish, mute: the stream concerned.
	StreamAlias string `json:"streamAlias,omitempty"`
	Muted       *bool  `json:"muted,omitempty"`

	// offer, answer.
	SDP string `json:"sdp,omitempty"`
	// offer: which m-line (mid) carries which participant's stream. A
	// client names a received track by its transceiver's mid with this
	// list, never by the track id (browsers may ignore the msid track id).
	Tracks []TrackInfo `json:"tracks,omitempty"`
	// candidate.
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`

	// joined, participantJoined, participantLeft, muted.
	ParticipantID string        `json:"participantId,omitempty"`
	Identity      string        `json:"identity,omitempty"`
	Participants  []PeerInfo    `json:"participants,omitempty"`
	ICEServers    []ICEServer   `json:"iceServers,omitempty"`
	Limits        *ClientLimits `json:"limits,omitempty"`
	Status        string        `json:"status,omitempty"`
	Error         *Error        `json:"error,omitempty"`

	// Calls: call (To, Options, Publish), accept (CallID, Options, Publish),
	// reject/hangup (CallID), hold (CallID, Hold), dtmf (CallID, Digits);
	// incoming (CallID, From, DisplayName, Options), callState (CallID,
	// State, Cause), holdStateChanged (CallID, IsHold, IsRemote), dtmf (CallID, From, Digits).
	CallID      string       `json:"callId,omitempty"`
	To          string       `json:"to,omitempty"`
	From        string       `json:"from,omitempty"`
	DisplayName string       `json:"displayName,omitempty"`
	Options     *CallOptions `json:"options,omitempty"`
	State       CallState    `json:"state,omitempty"`
	Cause       Cause        `json:"cause,omitempty"`
	Hold        *bool        `json:"hold,omitempty"`
	IsHold      *bool        `json:"isHold,omitempty"`
	IsRemote    bool         `json:"isRemote,omitempty"`
	Incoming    bool         `json:"incoming,omitempty"`
	Digits      string       `json:"digits,omitempty"`

	// refresh: the new token (never logged). refreshed: its expiry.
	Token     string     `json:"token,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// left, unpublished, reconnect: why (a Reason* constant).
	Reason string `json:"reason,omitempty"`
	// reconnect: where to connect again ("" or absent: the same URL).
	URL string `json:"url,omitempty"`

	// networkQuality: the overall level (the worse direction's) and MOS,
	// and each direction. participantNetworkQuality: Level is the level of
	// Direction ("uplink" or "downlink"). Levels are Quality* constants.
	Level     string       `json:"level,omitempty"`
	MOS       float64      `json:"mos,omitempty"`
	Uplink    *LinkQuality `json:"uplink,omitempty"`
	Downlink  *LinkQuality `json:"downlink,omitempty"`
	Direction string       `json:"direction,omitempty"`
	// Recording (recording.go): recordingStarted carries what is recorded,
	// AUDIO or AUDIO_AND_VIDEO, with CallID (a call) or SessionID (a room).
	RecordingType string `json:"recordingType,omitempty"`
}
