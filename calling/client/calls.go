package client

import (
	"context"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// Call calls identity to ("alice" or "client:alice") with the published
// tracks and returns the call id. States arrive on Events as callState.
func (c *Client) Call(ctx context.Context, to string, opts protocol.CallOptions) (string, error) {
	c.mu.Lock()
	pubs := append([]protocol.Publication(nil), c.pubs...)
	c.mu.Unlock()
	m, err := c.request(ctx, protocol.Message{Type: protocol.TypeCall, To: to, Options: &opts, Publish: pubs, DataChannel: c.dataChannel()})
	if err != nil {
		return "", err
	}
	return m.CallID, nil
}

// Accept answers an incoming call with the published tracks.
func (c *Client) Accept(callID string, opts protocol.CallOptions) error {
	c.mu.Lock()
	pubs := append([]protocol.Publication(nil), c.pubs...)
	c.mu.Unlock()
	return c.write(protocol.Message{Type: protocol.TypeAccept, ID: c.nextID(), CallID: callID, Options: &opts, Publish: pubs, DataChannel: c.dataChannel()})
}

// Reject declines an incoming call.
func (c *Client) Reject(callID string) error {
	return c.write(protocol.Message{Type: protocol.TypeReject, ID: c.nextID(), CallID: callID})
}

// Hangup ends a call (cancels it before the answer).
func (c *Client) Hangup(callID string) error {
	return c.write(protocol.Message{Type: protocol.TypeHangup, ID: c.nextID(), CallID: callID})
}

// Hold puts a call on hold or takes it off.
func (c *Client) Hold(callID string, on bool) error {
	return c.write(protocol.Message{Type: protocol.TypeHold, ID: c.nextID(), CallID: callID, Hold: &on})
}

// SendDTMF sends digits (0-9 * # A-D) to the other party.
func (c *Client) SendDTMF(callID, digits string) error {
	return c.write(protocol.Message{Type: protocol.TypeDTMF, ID: c.nextID(), CallID: callID, Digits: digits})
}
