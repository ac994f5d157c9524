package client

import (
	"context"

	"github.com/switchboard-rtc/switchboard/calling"
)

// Call calls identity to ("alice" or "client:alice") with the published
// tracks and returns the call id. States arrive on Events as callState.
func (c *Client) Call(ctx context.Context, to string, opts calling.CallOptions) (string, error) {
	c.mu.Lock()
	pubs := append([]calling.Publication(nil), c.pubs...)
	c.mu.Unlock()
	m, err := c.request(ctx, calling.Message{Type: calling.TypeCall, To: to, Options: &opts, Publish: pubs})
	if err != nil {
		return "", err
	}
	return m.CallID, nil
}

// Accept answers an incoming call with the published tracks.
func (c *Client) Accept(callID string, opts calling.CallOptions) error {
	c.mu.Lock()
	pubs := append([]calling.Publication(nil), c.pubs...)
	c.mu.Unlock()
	return c.write(calling.Message{Type: calling.TypeAccept, ID: c.nextID(), CallID: callID, Options: &opts, Publish: pubs})
}

// Reject declines an incoming call.
func (c *Client) Reject(callID string) error {
	return c.write(calling.Message{Type: calling.TypeReject, ID: c.nextID(), CallID: callID})
}

// Hangup ends a call (cancels it before the answer).
func (c *Client) Hangup(callID string) error {
	return c.write(calling.Message{Type: calling.TypeHangup, ID: c.nextID(), CallID: callID})
}

// Hold puts a call on hold or takes it off.
func (c *Client) Hold(callID string, on bool) error {
	return c.write(calling.Message{Type: calling.TypeHold, ID: c.nextID(), CallID: callID, Hold: &on})
}

// SendDTMF sends digits (0-9 * # A-D) to the other party.
func (c *Client) SendDTMF(callID, digits string) error {
	return c.write(calling.Message{Type: calling.TypeDTMF, ID: c.nextID(), CallID: callID, Digits: digits})
}
