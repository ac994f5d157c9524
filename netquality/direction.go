package netquality

import "strings"

// Direction is one way of a participant's media: Uplink is what it sends
// (its published streams as the server receives them), Downlink what it
// receives (as its receiver reports describe it).
type Direction uint8

// The directions. The zero Direction is none.
const (
	Uplink Direction = iota + 1
	Downlink
)

// String returns "uplink", "downlink", or "" for an invalid direction.
func (d Direction) String() string {
	switch d {
	case Uplink:
		return "uplink"
	case Downlink:
		return "downlink"
	}
	return ""
}

// MarshalText encodes the direction as its wire name ("uplink").
func (d Direction) MarshalText() ([]byte, error) {
	if !d.valid() {
		return nil, ErrInvalidDirection
	}
	return []byte(d.String()), nil
}

// UnmarshalText decodes "uplink" or "downlink" (case-insensitive).
func (d *Direction) UnmarshalText(b []byte) error {
	for _, c := range [...]Direction{Uplink, Downlink} {
		if strings.EqualFold(c.String(), string(b)) {
			*d = c
			return nil
		}
	}
	return ErrInvalidDirection
}

func (d Direction) valid() bool { return d == Uplink || d == Downlink }
