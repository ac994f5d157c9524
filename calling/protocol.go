package calling

import (
	"encoding/json"
	"time"

	"github.com/pion/webrtc/v4"
)

// Message types of the signaling protocol (docs/protocol.md has an example
// of each). Client to server: join, publish, unpublish, mute, answer,
// candidate, leave, ping. Server to client: joined, offer, candidate,
// participantJoined, participantLeft, muted, error, pong, bye.
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
)

// CallOptions are what a caller asks for (and a callee answers with).
type CallOptions struct {
	Audio bool `json:"audio"`
	Video bool `json:"video"`
	// Recording is the call option of the recording policy:
	// UNDEFINED (default), AUDIO or AUDIO_AND_VIDEO.
	Recording string `json:"recording,omitempty"`
	// CustomData travels to the callee untouched (at most 16 entries, 1 KiB in all).
	CustomData map[string]string `json:"customData,omitempty"`
}

// Publication announces one track a client publishes: its stream alias and kind.
type Publication struct {
	Alias string `json:"streamAlias"`
	Kind  string `json:"kind"` // "audio" or "video"
	// Muted starts the stream muted: nothing is forwarded until a mute
	// message with muted:false.
	Muted bool `json:"muted,omitempty"`
}

// Message is one signaling message. Which fields are set depends on Type.
type Message struct {
	Type string `json:"type"`
	// ID correlates a request with its reply (joined, error).
	ID string `json:"id,omitempty"`

	// join: Room (by name) or SessionID (a session the REST API put the participant in).
	Room      string `json:"room,omitempty"`
	SessionID string `json:"sessionId,omitempty"`
	// join, publish: tracks the client publishes.
	Publish []Publication `json:"publish,omitempty"`
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
	ParticipantID string         `json:"participantId,omitempty"`
	Identity      string         `json:"identity,omitempty"`
	Participants  []PeerInfo     `json:"participants,omitempty"`
	ICEServers    []ICEServer    `json:"iceServers,omitempty"`
	Limits        *ClientLimits  `json:"limits,omitempty"`
	Status        string         `json:"status,omitempty"`
	Error         *ProtocolError `json:"error,omitempty"`

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
	// left, unpublished: why.
	Reason string `json:"reason,omitempty"`
}

// TrackInfo says which m-line of an offer carries which stream.
type TrackInfo struct {
	Mid           string `json:"mid"`
	ParticipantID string `json:"participantId"`
	StreamAlias   string `json:"streamAlias"`
	Kind          string `json:"kind"` // "audio" or "video"
}

// PeerInfo describes another participant.
type PeerInfo struct {
	ParticipantID string `json:"participantId"`
	Identity      string `json:"identity,omitempty"`
}

// ICEServer is a STUN/TURN server handed to clients (as the Bandwidth SDK's
// setServerConfig(iceServers) takes them).
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// ClientLimits tells a client the limits it must respect.
type ClientLimits struct {
	MaxMessageBytes     int64 `json:"maxMessageBytes"`
	MaxDataMessageBytes int   `json:"maxDataMessageBytes"`
}

// ProtocolError is the body of an error message and the reason of a close.
type ProtocolError struct {
	// Code: 400 bad message, 403 token expired or invalid (refresh and
	// retry), 404 no such session or room, 406 identity not acceptable,
	// 409 conflict (session full, already joined), 429 rate limited,
	// 500 internal, 503 server full (Limits).
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Data-channel messages (label "switchboard", JSON text).
const (
	DataBroadcast = "broadcast"
	DataMessage   = "message"
)

// DataEnvelope is one message on the data channel.
type DataEnvelope struct {
	Type string `json:"type"`
	// message: To is an identity (empty = everyone else in the room).
	To   string `json:"to,omitempty"`
	Text string `json:"text"`
	// Set by the server.
	From            string    `json:"from,omitempty"`
	FromParticipant string    `json:"fromParticipant,omitempty"`
	Date            time.Time `json:"date,omitzero"`
}

func encode(m *Message) []byte {
	b, _ := json.Marshal(m) // Message has no unmarshalable fields
	return b
}
