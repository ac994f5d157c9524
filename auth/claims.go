package auth

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"
)

// identityRule is Infobip's identity rule, in ASCII: 3–64 of letters,
// digits and - _ + = / . (ASCII only, so no look-alike of an identity from
// another script, such as a Cyrillic or full-width "alice", is accepted).
var identityRule = regexp.MustCompile(`^[A-Za-z0-9\-_+=/.]{3,64}$`)

// ValidIdentity reports whether id follows the identity rule: 3 to 64
// characters, each an ASCII letter, an ASCII digit or one of - _ + = / .
func ValidIdentity(id string) bool { return identityRule.MatchString(id) }

// Media is a kind of media a participant may publish.
type Media string

// The media kinds of the publish grant.
const (
	MediaAudio Media = "AUDIO"
	MediaVideo Media = "VIDEO"
)

// RecordingOption is a token's recording option: whether the holder's media
// is recorded; the empty value means unset.
type RecordingOption string

// Recording options; the empty value means unset.
const (
	RecordingDisabled RecordingOption = "DISABLED"
	RecordingAlways   RecordingOption = "ALWAYS"
	RecordingOnDemand RecordingOption = "ON_DEMAND"
)

// Grants are the capabilities a token carries (the "grants" claim).
type Grants struct {
	// Outgoing: may place calls.
	Outgoing bool `json:"outgoing,omitempty"`
	// Incoming: may receive calls.
	Incoming bool `json:"incoming,omitempty"`
	// Rooms the holder may join by name; "*" means any room.
	Rooms []string `json:"rooms,omitempty" validate:"omitempty,max=100,dive,min=1,max=128"`
	// Publish lists the media the holder may publish.
	Publish []Media `json:"publish,omitempty" validate:"omitempty,max=2,dive,oneof=AUDIO VIDEO"`
	// Data: may send data-channel messages.
	Data bool `json:"data,omitempty"`
	// Recording is the participant's recording option; empty means unset.
	Recording RecordingOption `json:"recording,omitempty" validate:"omitempty,oneof=DISABLED ALWAYS ON_DEMAND"`
	// Admin: may use the account's REST admin API.
	Admin bool `json:"admin,omitempty"`
}

// CanPublish reports whether m is in the publish grant.
func (g Grants) CanPublish(m Media) bool { return slices.Contains(g.Publish, m) }

// CanJoin reports whether the rooms grant allows the room name.
func (g Grants) CanJoin(room string) bool {
	return slices.Contains(g.Rooms, "*") || slices.Contains(g.Rooms, room)
}

// Grant names one capability a route may require (see Middleware).
type Grant string

// The grants a route can require.
const (
	GrantOutgoing Grant = "outgoing"
	GrantIncoming Grant = "incoming"
	GrantData     Grant = "data"
	GrantAdmin    Grant = "admin"
)

// Has reports whether the grants include g.
func (g Grants) Has(want Grant) bool {
	switch want {
	case GrantOutgoing:
		return g.Outgoing
	case GrantIncoming:
		return g.Incoming
	case GrantData:
		return g.Data
	case GrantAdmin:
		return g.Admin
	}
	return false
}

// Claims are the verified contents of a token.
type Claims struct {
	Subject   string    `json:"sub"`
	ID        string    `json:"jti"`
	Issuer    string    `json:"iss"`
	Audience  []string  `json:"aud"`
	IssuedAt  time.Time `json:"-"`
	NotBefore time.Time `json:"-"`
	Expiry    time.Time `json:"-"`
	// Account scopes everything the holder creates or sees.
	Account string `json:"acct,omitempty"`
	// ParticipantID ties the token to a rooms participant (set by the
	// rooms REST API when it creates one); empty for plain identity tokens.
	ParticipantID string `json:"pid,omitempty"`
	// DisplayName is shown to the other side of a call.
	DisplayName string `json:"name,omitempty"`
	// Scope is the space-separated OAuth2 scope granted by the token
	// endpoint: an API token's registered scopes, or a user token's
	// capability strings in canonical form (see FormatCapabilities).
	Scope  string `json:"scope,omitempty"`
	Grants Grants `json:"grants"`
	// SingleUse tokens are accepted once (needs a ReplayCache on the Verifier).
	SingleUse bool `json:"once,omitempty"`
}

// Permission helpers: the one place that reads what a token allows. Each is
// safe on a nil *Claims (which allows nothing). Signaling decides with them;
// a participant's own publish permissions (package rooms) may narrow
// publishing further.

// CanJoin reports whether the holder may join the room by name (its rooms
// grant names the room, or "*").
func (c *Claims) CanJoin(room string) bool { return c != nil && c.Grants.CanJoin(room) }

// CanPublish reports whether the holder may publish media m.
func (c *Claims) CanPublish(m Media) bool { return c != nil && c.Grants.CanPublish(m) }

// CanCall reports whether the holder may place 1:1 calls (the outgoing grant).
func (c *Claims) CanCall() bool { return c != nil && c.Grants.Outgoing }

// CanReceiveCalls reports whether the holder may be rung and accept calls
// (the incoming grant and an identity that follows the identity rule).
func (c *Claims) CanReceiveCalls() bool {
	return c != nil && c.Grants.Incoming && ValidIdentity(c.Subject)
}

// CanSendData reports whether the holder may send data-channel messages.
func (c *Claims) CanSendData() bool { return c != nil && c.Grants.Data }

// IsAdmin reports whether the holder may use its account's REST admin API.
// User tokens, including scoped tokens from the token endpoint, never are.
func (c *Claims) IsAdmin() bool { return c != nil && c.Grants.Admin }

// HasScope reports whether the space-separated scope contains s.
func (c *Claims) HasScope(s string) bool {
	return slices.Contains(strings.Fields(c.Scope), s)
}

type ctxKey struct{}

// NewContext returns ctx carrying c.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext returns the claims Middleware put in ctx, if any.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(ctxKey{}).(*Claims)
	return c, ok
}
