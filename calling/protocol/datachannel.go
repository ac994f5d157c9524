package protocol

import "time"

// DataChannelLabel is the label of the data channel the server opens: one
// reliable, ordered channel of JSON text messages (DataEnvelope).
const DataChannelLabel = "switchboard"

// Kinds of data-channel messages (DataEnvelope.Type).
const (
	// DataMessage: a client's text to an identity or to everyone else in the session.
	DataMessage = "message"
	// DataBroadcast: text the server broadcast to the session.
	DataBroadcast = "broadcast"
	// DataError: the server refused a data-channel message (Text says why).
	DataError = "error"
)

// DataEnvelope is one message on the data channel. A plain value: not safe
// for concurrent mutation.
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
