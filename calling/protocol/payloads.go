package protocol

// The payloads a Message carries. They are plain values: not safe for
// concurrent mutation.

// Publication announces one track a client publishes: its stream alias and kind.
type Publication struct {
	Alias string `json:"streamAlias"`
	Kind  string `json:"kind"` // "audio" or "video"
	// Muted starts the stream muted: nothing is forwarded until a mute
	// message with muted:false.
	Muted bool `json:"muted,omitempty"`
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

// ClientLimits tells a client the limits it must respect (in the joined
// message; before it, DefaultMaxMessageBytes and DefaultMaxDataMessageBytes).
type ClientLimits struct {
	MaxMessageBytes     int64 `json:"maxMessageBytes"`
	MaxDataMessageBytes int   `json:"maxDataMessageBytes"`
}
