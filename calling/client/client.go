package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// Config configures Dial.
type Config struct {
	// URL of the signaling endpoint, e.g. ws://127.0.0.1:8080/v1/signal.
	URL string
	// Token is the user token. With TokenSource set it may be empty.
	Token string
	// TokenSource, when set, gives the client fresh tokens from the host's
	// backend: Dial takes the first from it when Token is empty, and the
	// client sends a refresh message with a new one before each token
	// expires (a quarter of its lifetime before, at most 30 s, at least 1 s),
	// so the connection outlives any single token. Errors from it are
	// retried every second until the token expires. It is called from the
	// client's own goroutine.
	TokenSource func(ctx context.Context) (string, error)
	// API makes the PeerConnection. Default: NewAPI() (every interface).
	API *webrtc.API
	// NoDataChannel asks the server for no data channel on this client's
	// PeerConnections (join, call and accept carry "dataChannel": false):
	// SendData fails and no data messages or broadcasts arrive; the server
	// saves an SCTP association (five goroutines) per participant.
	NoDataChannel bool
	// HTTPClient for the WebSocket handshake. Default http.DefaultClient.
	HTTPClient *http.Client
	// OnMessage, if set, sees every message from the server after the
	// client has handled it (for an offer: after the answer was sent). It
	// runs on the client's reader and must not block.
	OnMessage func(protocol.Message)
	// OnRTCP, if set, sees the RTCP the server sends about each track this
	// client receives (sender reports, mostly). The client reads every
	// receiver's RTCP itself (pion's receiver reports then carry the
	// sender-report times, which is how the server measures this client's
	// round trip), so do not read RemoteTrack.Receiver's RTCP: take it
	// here. It runs on the track's RTCP goroutine and must not block or
	// keep pkts.
	OnRTCP func(track *RemoteTrack, pkts []rtcp.Packet)
	// ReconnectTimeout bounds how long the client tries to connect again
	// when the server asks it to (a reconnect message: the server is
	// draining; reconnect.go). Default 30 s; negative: the client does not
	// reconnect, and ends when the server closes the connection.
	ReconnectTimeout time.Duration
}

// DefaultReconnectTimeout is Config.ReconnectTimeout's default.
const DefaultReconnectTimeout = 30 * time.Second

// Client is one participant.
type Client struct {
	conn      atomic.Pointer[websocket.Conn] // replaced when the client reconnects
	cfg       Config                         // for reconnecting
	api       *webrtc.API
	onMessage func(protocol.Message)
	onRTCP    func(*RemoteTrack, []rtcp.Packet)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	tracks    chan *RemoteTrack
	keyframes chan string
	data      chan protocol.DataEnvelope
	events    chan protocol.Message

	mu         sync.Mutex // guards the fields below and pc negotiation
	pc         *webrtc.PeerConnection
	pubs       []protocol.Publication
	tracksOut  []webrtc.TrackLocal
	waiting    map[string]chan protocol.Message
	pendingICE []webrtc.ICECandidateInit
	mids       map[string]protocol.TrackInfo // the last offer's mid → stream
	inactive   map[string]bool               // mids the last offer marked inactive
	dc         *webrtc.DataChannel
	dcOpen     chan struct{}
	rtcpRead   map[*webrtc.RTPReceiver]bool // receivers whose RTCP a goroutine reads
	inCall     string
	closed     bool
	url        string // the URL connected to
	token      string // the token of the connection, or the last refreshed one
	seq        atomic.Int64
	err        error
	// reconnecting is set while the client connects again (reconnect.go).
	reconnecting atomic.Bool
}

// Dial connects the signaling WebSocket and prepares the PeerConnection.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.API == nil {
		api, err := NewAPI()
		if err != nil {
			return nil, err
		}
		cfg.API = api
	}
	if cfg.Token == "" && cfg.TokenSource != nil {
		tok, err := cfg.TokenSource(ctx)
		if err != nil {
			return nil, fmt.Errorf("client: token source: %w", err)
		}
		cfg.Token = tok
	}
	if cfg.ReconnectTimeout == 0 {
		cfg.ReconnectTimeout = DefaultReconnectTimeout
	}
	// The server's first message says the connection is registered (and,
	// with the incoming grant, reachable for calls).
	conn, first, err := open(ctx, cfg.URL, cfg.Token, cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg: cfg, url: cfg.URL, token: cfg.Token, api: cfg.API, onMessage: cfg.OnMessage, onRTCP: cfg.OnRTCP,
		rtcpRead:  map[*webrtc.RTPReceiver]bool{},
		tracks:    make(chan *RemoteTrack, 16),
		keyframes: make(chan string, 16),
		data:      make(chan protocol.DataEnvelope, 64),
		events:    make(chan protocol.Message, 64),
		waiting:   map[string]chan protocol.Message{},
		dcOpen:    make(chan struct{}),
	}
	c.conn.Store(conn)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if err := c.handleFirst(first, false); err != nil {
		_ = c.Close()
		return nil, err
	}
	c.wg.Add(1)
	go c.read()
	if cfg.TokenSource != nil {
		c.wg.Add(1)
		go c.keepTokenFresh(cfg.Token, cfg.TokenSource)
	}
	return c, nil
}

// request sends m with a fresh id and waits for the reply that echoes it.
func (c *Client) request(ctx context.Context, m protocol.Message) (*protocol.Message, error) {
	id := c.nextID()
	m.ID = id
	ch := make(chan protocol.Message, 1)
	c.mu.Lock()
	c.waiting[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, id)
		c.mu.Unlock()
	}()
	if err := c.write(m); err != nil {
		if errors.Is(err, ErrClosed) {
			return nil, c.closedErr() // why it ended
		}
		return nil, err
	}
	select {
	case r := <-ch:
		if r.Type == protocol.TypeError {
			if r.Error == nil { // a malformed error message: still an error
				return nil, &protocol.Error{Code: 500, Reason: protocol.ReasonInternal, Message: "error message without an error"}
			}
			return nil, r.Error
		}
		return &r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, c.closedErr()
	}
}

// ErrClosed is returned by requests made on (or pending when) a connection
// that was closed without an error of its own, by Close say.
var ErrClosed = errors.New("client: connection closed")

// closedErr is why the connection ended, never nil.
func (c *Client) closedErr() error {
	if err := c.Err(); err != nil {
		return err
	}
	return ErrClosed
}

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.ctx.Done() }

// Err tells why the connection ended.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Client statuses (the client statuses of docs/protocol.md).
const (
	StatusOffline    = "offline"
	StatusConnecting = "connecting"
	StatusConnected  = "connected"
	StatusError      = "error"
)

// Status reports the signaling connection: connected from Dial's return
// until it ends; offline after Close; error when the server or the network
// ended it (Err says why). Dial itself is the connecting phase, and so is
// connecting again when the server asks (reconnect.go): connecting until
// the new connection is up, then connected again.
func (c *Client) Status() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return StatusOffline
	case c.err != nil:
		return StatusError
	case c.reconnecting.Load():
		return StatusConnecting
	}
	return StatusConnected
}

// Close leaves, closes the PeerConnection and the WebSocket, and waits
// for the client's goroutines.
func (c *Client) Close() error {
	_ = c.write(protocol.Message{Type: protocol.TypeLeave})
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	err := c.conn.Load().Close(websocket.StatusNormalClosure, "bye") // after closed is set: a reconnect stores no newer one
	c.mu.Lock()
	if c.pc != nil {
		_ = c.pc.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
	return err
}

func (c *Client) nextID() string { return strconv.FormatInt(c.seq.Add(1), 10) }

func (c *Client) write(m protocol.Message) error {
	b, err := protocol.Encode(&m)
	if err != nil {
		return err
	}
	if err := c.conn.Load().Write(c.ctx, websocket.MessageText, b); err != nil {
		switch {
		case c.ctx.Err() != nil: // the connection ended (write may run under c.mu: no c.Err here)
			return ErrClosed
		case c.reconnecting.Load():
			return ErrReconnecting
		}
		return err
	}
	return nil
}

func (c *Client) setErr(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}
