package client

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// ErrNoDataChannel is SendData's error on a client made with
// Config.NoDataChannel.
var ErrNoDataChannel = errors.New("client: no data channel (Config.NoDataChannel)")

// dataChannel is the dataChannel field of join, call and accept: false
// with Config.NoDataChannel, else absent.
func (c *Client) dataChannel() *bool {
	if !c.cfg.NoDataChannel {
		return nil
	}
	no := false
	return &no
}

// SendData sends a text message over the data channel to an identity
// (empty = everyone else in the room).
func (c *Client) SendData(ctx context.Context, to, text string) error {
	if c.cfg.NoDataChannel {
		return ErrNoDataChannel
	}
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
