package client

import (
	"encoding/json"
	"fmt"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// Events delivers the other signaling messages: joined, participantJoined,
// participantLeft, muted, callState, incoming, holdStateChanged, dtmf,
// recordingStarted, recordingStopped,
// networkQuality (this client's own network: Level, MOS, Uplink,
// Downlink), participantNetworkQuality (another participant's: its
// ParticipantID, Identity, Direction and Level), error, bye, and the rest;
// reconnect (the server is draining: the client connects again by itself,
// reconnect.go) and, once it has, the new connection's status (Dial's own
// status is not delivered: Dial's return says it). It holds 64 messages;
// when the application does not keep up, newer messages are dropped
// (OnMessage sees every one).
func (c *Client) Events() <-chan protocol.Message { return c.events }

func (c *Client) read() {
	defer c.wg.Done()
	defer c.cancel()
	for {
		_, b, err := c.conn.Load().Read(c.ctx)
		if err != nil {
			c.setErr(err)
			return
		}
		var m protocol.Message
		if err := json.Unmarshal(b, &m); err != nil {
			c.setErr(fmt.Errorf("client: bad message from server: %w", err))
			return
		}
		if err := c.handle(m); err != nil {
			c.setErr(err)
			return
		}
		if c.onMessage != nil {
			c.onMessage(m)
		}
		if m.Type == protocol.TypeReconnect && c.cfg.ReconnectTimeout > 0 {
			if err := c.reconnect(m.URL); err != nil {
				c.setErr(err)
				return
			}
		}
	}
}

func (c *Client) handle(m protocol.Message) error {
	c.mu.Lock()
	waiter := c.waiting[m.ID]
	c.mu.Unlock()
	switch m.Type {
	case protocol.TypeJoined:
		c.mu.Lock()
		err := c.newPC()
		c.inCall = m.CallID
		c.mu.Unlock()
		if err != nil {
			return err
		}
		if waiter != nil {
			waiter <- m
		}
		c.event(m)
		return nil
	case protocol.TypeCallState:
		if waiter != nil {
			waiter <- m
		}
		if m.State == protocol.StateEnded || m.State == protocol.StateFailed {
			c.mu.Lock()
			if c.pc != nil && c.inCall == m.CallID {
				_ = c.pc.Close()
				c.pc = nil
			}
			c.mu.Unlock()
		}
		c.event(m)
		return nil
	case protocol.TypeOffer:
		return c.onOffer(m)
	case protocol.TypeCandidate:
		if m.Candidate == nil {
			return nil
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.pc == nil {
			return nil // a candidate of a session that has ended
		}
		if c.pc.RemoteDescription() == nil {
			c.pendingICE = append(c.pendingICE, *m.Candidate)
			return nil
		}
		return c.pc.AddICECandidate(*m.Candidate)
	case protocol.TypeError:
		if waiter != nil {
			waiter <- m
			return nil
		}
		c.event(m)
	default:
		if waiter != nil {
			select {
			case waiter <- m:
			default:
			}
		}
		c.event(m)
	}
	return nil
}

// event hands m to Events without blocking the reader (a full queue drops it).
func (c *Client) event(m protocol.Message) {
	select {
	case c.events <- m:
	default:
	}
}
