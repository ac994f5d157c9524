package auth

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// Capability strings name grants in MessageBird's style: a name and query
// parameters. Every capability may carry identity=<identity>; the client.*
// capabilities must. All capabilities of one request must name the same
// identity, and at least one must name it (unless the request names the
// identity elsewhere, as POST /v1/tokens may).
const (
	// CapOutgoing, "client.outgoing?identity=alice", grants Outgoing: may place calls.
	CapOutgoing = "client.outgoing"
	// CapIncoming, "client.incoming?identity=alice", grants Incoming: may receive calls.
	CapIncoming = "client.incoming"
	// CapRoomJoin, "room.join?name=hello", adds the room to Rooms; name=* means any room.
	CapRoomJoin = "room.join"
	// CapPublish, "publish?media=AUDIO" or "publish?media=VIDEO", adds the media to Publish.
	CapPublish = "publish"
	// CapData, "data", grants Data: may send data-channel messages.
	CapData = "data"
)

// Limits of capability lists.
const (
	// MaxCapabilities is the most capability strings one request may carry.
	MaxCapabilities = 16
	// MaxRoomNameLength is the longest room name a grant may carry, in characters.
	MaxRoomNameLength = 128
)

// ParseCapabilities maps capability strings (see CapOutgoing and the other
// Cap constants) onto an identity and grants. Every capability must name
// the same identity, and at least one must name it. Unknown capabilities,
// unknown or repeated parameters and bad values are ErrInvalidClaims; a bad
// or missing identity is ErrInvalidIdentity.
func ParseCapabilities(caps []string) (identity string, g Grants, err error) {
	identity, g, err = parseCapabilities(caps)
	if err == nil && identity == "" {
		return "", Grants{}, fmt.Errorf("%w: no capability names the identity", ErrInvalidIdentity)
	}
	return identity, g, err
}

// parseCapabilities is ParseCapabilities allowing no capability to name the
// identity (identity is then "").
func parseCapabilities(caps []string) (identity string, g Grants, err error) {
	if len(caps) == 0 {
		return "", g, fmt.Errorf("%w: no capabilities", ErrInvalidClaims)
	}
	if len(caps) > MaxCapabilities {
		return "", g, fmt.Errorf("%w: more than %d capabilities", ErrInvalidClaims, MaxCapabilities)
	}
	for _, c := range caps {
		id, err := parseCapability(c, &g)
		if err != nil {
			return "", Grants{}, err
		}
		if id == "" {
			continue
		}
		if identity != "" && id != identity {
			return "", Grants{}, fmt.Errorf("%w: capabilities name different identities", ErrInvalidClaims)
		}
		identity = id
	}
	return identity, g, validateGrants(g)
}

// parseCapability adds one capability's grant to g and returns the identity it names.
func parseCapability(c string, g *Grants) (string, error) {
	name, query, _ := strings.Cut(c, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("%w: capability %q: malformed query", ErrInvalidClaims, name)
	}
	var want string // the parameter the capability needs besides identity
	switch name {
	case CapOutgoing:
		g.Outgoing = true
	case CapIncoming:
		g.Incoming = true
	case CapData:
		g.Data = true
	case CapRoomJoin:
		want = "name"
	case CapPublish:
		want = "media"
	default:
		return "", fmt.Errorf("%w: unknown capability %q", ErrInvalidClaims, truncate(name, 64))
	}
	for k, v := range q {
		if (k != "identity" && k != want) || len(v) != 1 {
			return "", fmt.Errorf("%w: capability %q: unknown or repeated parameter %q", ErrInvalidClaims, name, truncate(k, 64))
		}
	}
	switch name {
	case CapRoomJoin:
		room, ok := q["name"]
		if !ok || !ValidRoomName(room[0]) {
			return "", fmt.Errorf("%w: %s needs name=<room>: 1-%d characters, no control characters or bidirectional overrides", ErrInvalidClaims, name, MaxRoomNameLength)
		}
		if !slices.Contains(g.Rooms, room[0]) {
			g.Rooms = append(g.Rooms, room[0])
		}
	case CapPublish:
		m := Media(q.Get("media"))
		if m != MediaAudio && m != MediaVideo {
			return "", fmt.Errorf("%w: %s needs media=AUDIO or media=VIDEO", ErrInvalidClaims, name)
		}
		if !slices.Contains(g.Publish, m) {
			g.Publish = append(g.Publish, m)
		}
	}
	id, named := q["identity"]
	switch {
	case named && !ValidIdentity(id[0]):
		return "", fmt.Errorf("%w: capability %q", ErrInvalidIdentity, name)
	case named:
		return id[0], nil
	case name == CapOutgoing || name == CapIncoming:
		return "", fmt.Errorf("%w: capability %q must name the identity", ErrInvalidIdentity, name)
	}
	return "", nil
}

// FormatCapabilities is the inverse of ParseCapabilities: the capability
// strings, each naming identity, that grant what g grants of Outgoing,
// Incoming, Rooms, Publish and Data (other grants have no capability).
// The order is fixed: client.outgoing, client.incoming, room.join (in the
// order of g.Rooms), publish, data.
func FormatCapabilities(identity string, g Grants) []string {
	id := "identity=" + url.QueryEscape(identity)
	var caps []string
	if g.Outgoing {
		caps = append(caps, CapOutgoing+"?"+id)
	}
	if g.Incoming {
		caps = append(caps, CapIncoming+"?"+id)
	}
	for _, r := range g.Rooms {
		caps = append(caps, CapRoomJoin+"?"+id+"&name="+url.QueryEscape(r))
	}
	for _, m := range g.Publish {
		caps = append(caps, CapPublish+"?"+id+"&media="+url.QueryEscape(string(m)))
	}
	if g.Data {
		caps = append(caps, CapData+"?"+id)
	}
	return caps
}

// ValidRoomName reports whether name is acceptable as a room name in a
// grant: 1 to MaxRoomNameLength characters of valid UTF-8 with no control
// characters and no bidirectional overrides or marks (see httpx.SafeText).
// "*" is valid and, in a grant, means any room.
func ValidRoomName(name string) bool {
	return name != "" && utf8.RuneCountInString(name) <= MaxRoomNameLength && httpx.SafeText(name)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
