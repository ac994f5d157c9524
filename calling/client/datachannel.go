package client

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// SendData sends a text message over the data channel to an identity
// (empty = everyone else in the room).
func (c *Client) SendData(ctx context.Context, to, text string) error {
	select {
	case <-c.DataChannelOpen():
	case <-ctx.Done():
		return ctx.Err()
	}
	b, _ := json.Marshal(protocol.DataEnvelope{Type: protocol.DataMessage, To: to, Text: text})
	c.mu.Lock()
	dc := c.dc
	c.mu.Unlock()
	if dc == nil {
		return errors.New("client: no data channel")
	}
	return dc.SendText(string(b))
}

// Data delivers data-channel messages (broadcasts and messages from others).
func (c *Client) Data() <-chan protocol.DataEnvelope { return c.data }

// DataChannelOpen is closed once the current session's data channel is open.
func (c *Client) DataChannelOpen() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dcOpen
}
