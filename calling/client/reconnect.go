package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// ErrReconnecting is returned by a write made while the client connects
// again (the server asked it to): retry once Events has delivered the new
// connection's status message.
var ErrReconnecting = errors.New("client: reconnecting; retry once connected again")

// Reconnect backoff: the first retry after reconnectBackoff, doubling up to
// maxReconnectBackoff, within Config.ReconnectTimeout.
const (
	reconnectBackoff    = 100 * time.Millisecond
	maxReconnectBackoff = 2 * time.Second
)

// URL returns the URL of the signaling connection: Config.URL, or where
// the server last told the client to reconnect.
func (c *Client) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.url
}

// open dials url with token and reads until the server's status message,
// which says the connection is registered; it returns the connection and
// the messages up to that one, status last (a call ringing this identity
// may come first). A refusal after the upgrade (a bad token) is the close
// error (its code says why: 4403, 4406, ...).
func open(ctx context.Context, url, token string, hc *http.Client) (*websocket.Conn, []protocol.Message, error) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h, HTTPClient: hc})
	if err != nil {
		return nil, nil, err
	}
	conn.SetReadLimit(1 << 20)
	var first []protocol.Message
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			_ = conn.CloseNow()
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			return nil, nil, err
		}
		var m protocol.Message
		if err := json.Unmarshal(b, &m); err != nil {
			_ = conn.CloseNow()
			return nil, nil, fmt.Errorf("client: bad message from server: %w", err)
		}
		first = append(first, m)
		if m.Type == protocol.TypeStatus {
			return conn, first, nil
		}
	}
}

// handleFirst handles the messages open read, as the reader handles the
// rest (Dial's status goes to OnMessage only: Dial's return says it).
func (c *Client) handleFirst(first []protocol.Message, statusEvent bool) error {
	for _, m := range first {
		if m.Type == protocol.TypeStatus {
			if statusEvent {
				c.event(m)
			}
		} else if err := c.handle(m); err != nil {
			return err
		}
		if c.onMessage != nil {
			c.onMessage(m)
		}
	}
	return nil
}

// reconnect follows a reconnect message (on the reader): it ends the
// current session (its PeerConnection closes; rooms and calls are not
// resumed: the application joins or calls again), fails the requests
// waiting for a reply, closes the connection, and connects to url (the
// current URL when empty) with a token from Config.TokenSource (else the
// current token), retrying with backoff for Config.ReconnectTimeout. Once
// connected, the new status message goes to Events and OnMessage and the
// client carries on; an error ends the client.
func (c *Client) reconnect(url string) error {
	c.reconnecting.Store(true)
	defer c.reconnecting.Store(false)
	c.mu.Lock()
	if url == "" {
		url = c.url
	}
	if c.pc != nil {
		_ = c.pc.Close()
		c.pc = nil
	}
	c.inCall, c.dc, c.pendingICE = "", nil, nil
	c.dcOpen = make(chan struct{})
	gone := &protocol.Error{Code: 503, Reason: protocol.ReasonDraining, Message: "the server asked the client to reconnect; retry"}
	for id, w := range c.waiting {
		select {
		case w <- protocol.Message{Type: protocol.TypeError, ID: id, Error: gone}:
		default:
		}
	}
	c.mu.Unlock()
	// The server closes with 1012 right after its reconnect message: the
	// close handshake is short.
	_ = c.conn.Load().Close(websocket.StatusNormalClosure, "reconnecting")

	deadline := time.Now().Add(c.cfg.ReconnectTimeout)
	wait := reconnectBackoff
	for {
		conn, first, err := c.dialAgain(url, deadline)
		if err == nil {
			c.mu.Lock()
			if c.closed { // Close ran meanwhile (it closed the old connection)
				c.mu.Unlock()
				_ = conn.CloseNow()
				return ErrClosed
			}
			c.conn.Store(conn)
			c.url = url
			c.mu.Unlock()
			return c.handleFirst(first, true)
		}
		if c.ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("client: reconnect to %s: %w", url, err)
		}
		select {
		case <-c.ctx.Done():
			return ErrClosed
		case <-time.After(wait):
		}
		wait = min(2*wait, maxReconnectBackoff)
	}
}

// dialAgain makes one attempt to connect to url before deadline.
func (c *Client) dialAgain(url string, deadline time.Time) (*websocket.Conn, []protocol.Message, error) {
	ctx, cancel := context.WithDeadline(c.ctx, deadline)
	defer cancel()
	c.mu.Lock()
	token := c.token
	c.mu.Unlock()
	if c.cfg.TokenSource != nil { // a fresh one each time: a single-use token is spent by a refused attempt
		tok, err := c.cfg.TokenSource(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("client: token source: %w", err)
		}
		token = tok
	}
	conn, first, err := open(ctx, url, token, c.cfg.HTTPClient)
	if err == nil {
		c.mu.Lock()
		c.token = token
		c.mu.Unlock()
	}
	return conn, first, err
}
