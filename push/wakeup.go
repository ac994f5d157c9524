package push

import (
	"strconv"
	"time"
)

// Wakeup asks for a callee's devices to be woken for an incoming call. Its
// fields parallel calling.Wakeup (plus HasVideo), so a host adapts one to
// the other field by field.
type Wakeup struct {
	// Account and Identity name the callee.
	Account  string `json:"account"`
	Identity string `json:"identity"`
	// CallID is the call the app answers when it connects.
	CallID string `json:"callId"`
	// From is the caller's identity; DisplayName the caller's display name.
	From        string `json:"from"`
	DisplayName string `json:"displayName,omitempty"`
	// HasVideo says the caller offers video.
	HasVideo bool `json:"hasVideo"`
	// ExpiresAt is when the call stops ringing (the ring timeout): no
	// delivery is tried after it, and the app should not ring past it.
	ExpiresAt time.Time `json:"expiresAt"`
}

// PayloadType is the "type" of every wake-up payload.
const PayloadType = "incoming_call"

// Payload is what reaches the app: the APNs VoIP push's JSON body, and the
// FCM data message with every value as a string (see Data). docs/push.md
// documents it for app developers.
type Payload struct {
	Type        string `json:"type"`
	CallID      string `json:"callId"`
	From        string `json:"from"`
	To          string `json:"to"`
	DisplayName string `json:"displayName,omitempty"`
	HasVideo    bool   `json:"hasVideo"`
	// ExpiresAt in RFC 3339 with milliseconds, UTC; ExpiresAtMs in Unix
	// milliseconds: the same instant.
	ExpiresAt   string `json:"expiresAt"`
	ExpiresAtMs int64  `json:"expiresAtMs"`
}

// rfc3339Millis is RFC 3339 with exactly three fractional digits.
const rfc3339Millis = "2006-01-02T15:04:05.000Z07:00"

// Payload returns what the app receives for w.
func (w Wakeup) Payload() Payload {
	return Payload{
		Type:        PayloadType,
		CallID:      w.CallID,
		From:        w.From,
		To:          w.Identity,
		DisplayName: w.DisplayName,
		HasVideo:    w.HasVideo,
		ExpiresAt:   w.ExpiresAt.UTC().Format(rfc3339Millis),
		ExpiresAtMs: w.ExpiresAt.UnixMilli(),
	}
}

// Data returns the payload as FCM data: the same keys, every value a
// string ("true"/"false" for hasVideo, decimal for expiresAtMs); an empty
// displayName is left out.
func (p Payload) Data() map[string]string {
	m := map[string]string{
		"type":        p.Type,
		"callId":      p.CallID,
		"from":        p.From,
		"to":          p.To,
		"hasVideo":    strconv.FormatBool(p.HasVideo),
		"expiresAt":   p.ExpiresAt,
		"expiresAtMs": strconv.FormatInt(p.ExpiresAtMs, 10),
	}
	if p.DisplayName != "" {
		m["displayName"] = p.DisplayName
	}
	return m
}
