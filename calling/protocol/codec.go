package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// Size limits of the wire.
const (
	// DefaultMaxMessageBytes is the largest signaling message a server reads
	// unless configured otherwise; a larger one closes the connection with
	// 1009. A server tells its own limit in the joined message
	// (ClientLimits.MaxMessageBytes).
	DefaultMaxMessageBytes = 64 << 10
	// DefaultMaxDataMessageBytes is the largest data-channel text a server
	// takes unless configured otherwise (ClientLimits.MaxDataMessageBytes).
	DefaultMaxDataMessageBytes = 16 << 10
	// MaxIDBytes is the longest Message.ID.
	MaxIDBytes = 64
)

// Encode returns m as the JSON text message that goes on the WebSocket. It
// fails only on a value encoding/json cannot encode (an ExpiresAt outside
// years 0-9999).
func Encode(m *Message) ([]byte, error) { return json.Marshal(m) }

// DecodeClientMessage parses one message a client sends, strictly, as a
// server does: unknown fields, data after the JSON value, an id over
// MaxIDBytes, a missing type and a type a client does not send (offer,
// joined, ...) are refused with a bad_message *Error. On an error the
// returned Message is never nil and carries at least the request's id when
// it could be read (read leniently on its own, so a reply can echo it). It
// does not check the size: the WebSocket's read limit does that.
func DecodeClientMessage(data []byte) (*Message, error) {
	var m Message
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		// Echo the request id even when the message is refused (an unknown
		// field, a wrong type): read it leniently on its own.
		var probe struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(data, &probe)
		if len(probe.ID) > MaxIDBytes {
			probe.ID = ""
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			if len(name) > 66 {
				name = name[:66] + "…"
			}
			return &Message{ID: probe.ID}, badMessage("unknown field " + name)
		}
		return &Message{ID: probe.ID}, badMessage("not a valid JSON message")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) { // More would pass a stray "}" or "]"
		return &Message{ID: m.ID}, badMessage("data after the JSON message")
	}
	if len(m.ID) > MaxIDBytes {
		return &Message{}, badMessage("id is longer than 64 characters")
	}
	switch m.Type {
	case TypeJoin, TypePublish, TypeUnpublish, TypeMute, TypeAnswer, TypeCandidate, TypeLeave, TypePing, TypeRefresh,
		TypeCall, TypeAccept, TypeReject, TypeHangup, TypeHold, TypeDTMF:
	case "":
		return &m, badMessage("type is required")
	default:
		return &Message{ID: m.ID}, badMessage("unknown message type")
	}
	return &m, nil
}
