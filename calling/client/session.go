package client

import (
	"context"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// JoinRequest names what to join: a room by name or a session by id.
type JoinRequest struct {
	Room      string
	SessionID string
	// Recording is the recording option asked for, an input of the
	// recording policy (UNDEFINED, AUDIO, AUDIO_AND_VIDEO); empty: none.
	Recording string
}

// Join joins and returns the server's joined message (participant id,
// session id, the others already there).
func (c *Client) Join(ctx context.Context, req JoinRequest) (*protocol.Message, error) {
	c.mu.Lock()
	pubs := append([]protocol.Publication(nil), c.pubs...)
	c.mu.Unlock()
	m := protocol.Message{Type: protocol.TypeJoin, Room: req.Room, SessionID: req.SessionID, Publish: pubs, DataChannel: c.dataChannel()}
	if req.Recording != "" {
		m.Options = &protocol.CallOptions{Recording: req.Recording}
	}
	return c.request(ctx, m)
}

// Mute stops (or resumes) forwarding of a published stream at the server.
// Before Join, Call or Accept it sets how the stream starts (a user can
// join muted); in a session it also sends a mute message, which the server
// confirms with a muted message that echoes its id.
func (c *Client) Mute(alias string, muted bool) error {
	c.mu.Lock()
	inSession := c.pc != nil
	for i := range c.pubs {
		if c.pubs[i].Alias == alias {
			c.pubs[i].Muted = muted
		}
	}
	c.mu.Unlock()
	if !inSession {
		return nil
	}
	return c.write(protocol.Message{Type: protocol.TypeMute, ID: c.nextID(), StreamAlias: alias, Muted: &muted})
}

// Send writes raw signaling (tests use it to misbehave).
func (c *Client) Send(m protocol.Message) error { return c.write(m) }
