// Package client is a programmatic Switchboard participant: it connects to
// calling.Server's signaling WebSocket with a user token, joins a room or
// session, publishes tracks, receives the tracks the server forwards, and
// sends and receives data-channel messages. Tests, bots and the load tool
// use it.
//
// A Client is safe for concurrent use. Its goroutines end when Close is
// called or the connection ends.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/internal/codecs"
	"github.com/switchboard-rtc/switchboard/internal/iceaddr"
	"github.com/switchboard-rtc/switchboard/internal/pionlog"
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
	// HTTPClient for the WebSocket handshake. Default http.DefaultClient.
	HTTPClient *http.Client
	// OnMessage, if set, sees every message from the server after the
	// client has handled it (for an offer: after the answer was sent). It
	// runs on the client's reader and must not block.
	OnMessage func(protocol.Message)
}

// RemoteTrack is a track the server forwards: whose it is and which stream
// (from the offer's list of mids, not from the track's msid).
type RemoteTrack struct {
	ParticipantID string
	Alias         string
	*webrtc.TrackRemote
	Receiver *webrtc.RTPReceiver
}

// Client is one participant.
type Client struct {
	conn      *websocket.Conn
	api       *webrtc.API
	onMessage func(protocol.Message)

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
	inCall     string
	closed     bool
	status     chan protocol.Message
	seq        atomic.Int64
	err        error
}

// NewAPI returns a pion API with the default codecs and interceptors. With
// ips it gathers candidates only on those addresses (e.g. "127.0.0.1").
func NewAPI(ips ...string) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := codecs.Register(me); err != nil { // pion's defaults + RFC 4733 telephone-event
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.LoggerFactory = pionlog.Factory{Logger: slog.New(slog.DiscardHandler)} // errors reach the caller as errors and states
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if len(ips) > 0 {
		allowed, loop, err := iceaddr.Parse(ips)
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		se.SetIPFilter(iceaddr.Filter(allowed))
		se.SetIncludeLoopbackCandidate(loop)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
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
	h := http.Header{}
	h.Set("Authorization", "Bearer "+cfg.Token)
	conn, _, err := websocket.Dial(ctx, cfg.URL, &websocket.DialOptions{HTTPHeader: h, HTTPClient: cfg.HTTPClient})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	c := &Client{
		conn: conn, api: cfg.API, onMessage: cfg.OnMessage,
		tracks:    make(chan *RemoteTrack, 16),
		keyframes: make(chan string, 16),
		data:      make(chan protocol.DataEnvelope, 64),
		events:    make(chan protocol.Message, 64),
		waiting:   map[string]chan protocol.Message{},
		dcOpen:    make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.status = make(chan protocol.Message, 1)
	c.wg.Add(1)
	go c.read()
	// The server's first message says the connection is registered (and,
	// with the incoming grant, reachable for calls).
	select {
	case <-c.status:
		if cfg.TokenSource != nil {
			c.wg.Add(1)
			go c.keepTokenFresh(cfg.Token, cfg.TokenSource)
		}
		return c, nil
	case <-ctx.Done():
		_ = c.Close()
		return nil, ctx.Err()
	case <-c.ctx.Done():
		err := c.Err()
		_ = c.Close()
		return nil, err
	}
}

// Publish adds a track to send under a stream alias in every session this
// client joins or call it makes or answers. Call it before Join, Call or Accept.
func (c *Client) Publish(alias string, track webrtc.TrackLocal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pubs = append(c.pubs, protocol.Publication{Alias: alias, Kind: track.Kind().String()})
	c.tracksOut = append(c.tracksOut, track)
	return nil
}

// newPC makes the PeerConnection of a session the server just put us in,
// with our tracks; c.mu held.
func (c *Client) newPC() error {
	if c.pc != nil {
		_ = c.pc.Close()
	}
	pc, err := c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	c.pc = pc
	c.pendingICE = nil
	c.mids, c.inactive = nil, nil
	dcOpen := make(chan struct{})
	c.dcOpen = dcOpen
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		init := cand.ToJSON()
		_ = c.write(protocol.Message{Type: protocol.TypeCandidate, Candidate: &init})
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		rt := &RemoteTrack{ParticipantID: t.StreamID(), Alias: t.ID(), TrackRemote: t, Receiver: r}
		mid := ""
		for _, tr := range pc.GetTransceivers() {
			if tr.Receiver() == r {
				mid = tr.Mid()
			}
		}
		c.mu.Lock()
		if info, ok := c.mids[mid]; ok && mid != "" {
			rt.ParticipantID, rt.Alias = info.ParticipantID, info.StreamAlias
		}
		c.mu.Unlock()
		select {
		case c.tracks <- rt:
		case <-c.ctx.Done():
		}
	})
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		if dc.Label() != "switchboard" {
			return
		}
		c.mu.Lock()
		c.dc = dc
		c.mu.Unlock()
		dc.OnOpen(func() { close(dcOpen) })
		dc.OnMessage(func(m webrtc.DataChannelMessage) {
			var env protocol.DataEnvelope
			if json.Unmarshal(m.Data, &env) != nil {
				return
			}
			select {
			case c.data <- env:
			default: // a reader that does not keep up loses data messages, not the connection
			}
		})
	})
	for _, track := range c.tracksOut {
		tr, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return err
		}
		sender, alias := tr.Sender(), track.ID()
		for i, t := range c.tracksOut {
			if t == track {
				alias = c.pubs[i].Alias
			}
		}
		c.wg.Add(1)
		go func() { // read RTCP so the interceptors work; ends when the PeerConnection closes
			defer c.wg.Done()
			buf := make([]byte, 1500)
			for {
				n, _, err := sender.Read(buf)
				if err != nil {
					return
				}
				pkts, err := rtcp.Unmarshal(buf[:n])
				if err != nil {
					continue
				}
				for _, p := range pkts {
					switch p.(type) {
					case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
						select {
						case c.keyframes <- alias:
						default:
						}
					}
				}
			}
		}()
	}
	return nil
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
		return nil, err
	}
	select {
	case r := <-ch:
		if r.Type == protocol.TypeError {
			return nil, r.Error
		}
		return &r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, c.Err()
	}
}

// JoinRequest names what to join: a room by name or a session by id.
type JoinRequest struct {
	Room      string
	SessionID string
}

// Join joins and returns the server's joined message (participant id,
// session id, the others already there).
func (c *Client) Join(ctx context.Context, req JoinRequest) (*protocol.Message, error) {
	c.mu.Lock()
	pubs := append([]protocol.Publication(nil), c.pubs...)
	c.mu.Unlock()
	return c.request(ctx, protocol.Message{Type: protocol.TypeJoin, Room: req.Room, SessionID: req.SessionID, Publish: pubs})
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

// Refresh hands the server a fresh token for the same identity (a refresh
// message) and returns its expiry. The connection carries on; narrowed
// grants take effect at once.
func (c *Client) Refresh(ctx context.Context, token string) (time.Time, error) {
	r, err := c.request(ctx, protocol.Message{Type: protocol.TypeRefresh, Token: token})
	if err != nil {
		return time.Time{}, err
	}
	if r.ExpiresAt == nil {
		return time.Time{}, errors.New("client: refreshed without expiresAt")
	}
	return *r.ExpiresAt, nil
}

// Send writes raw signaling (tests use it to misbehave).
func (c *Client) Send(m protocol.Message) error { return c.write(m) }

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

// KeyframeRequests delivers the stream alias of a published video track
// whenever the server asks for a keyframe (PLI or FIR): send one then.
func (c *Client) KeyframeRequests() <-chan string { return c.keyframes }

// Tracks delivers the tracks the server forwards to this client.
func (c *Client) Tracks() <-chan *RemoteTrack { return c.tracks }

// Data delivers data-channel messages (broadcasts and messages from others).
func (c *Client) Data() <-chan protocol.DataEnvelope { return c.data }

// Events delivers other signaling messages: participantJoined,
// participantLeft, muted, error, bye.
func (c *Client) Events() <-chan protocol.Message { return c.events }

// PeerConnection is the PeerConnection of the current session (nil before
// the first join or call is set up).
func (c *Client) PeerConnection() *webrtc.PeerConnection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pc
}

// DataChannelOpen is closed once the current session's data channel is open.
func (c *Client) DataChannelOpen() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dcOpen
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
// ended it (Err says why). Dial itself is the connecting phase.
func (c *Client) Status() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return StatusOffline
	case c.err != nil:
		return StatusError
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
	err := c.conn.Close(websocket.StatusNormalClosure, "bye")
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
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return c.conn.Write(c.ctx, websocket.MessageText, b)
}

func (c *Client) setErr(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *Client) read() {
	defer c.wg.Done()
	defer c.cancel()
	for {
		_, b, err := c.conn.Read(c.ctx)
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
	}
}

func (c *Client) handle(m protocol.Message) error {
	c.mu.Lock()
	waiter := c.waiting[m.ID]
	c.mu.Unlock()
	switch m.Type {
	case protocol.TypeStatus:
		select {
		case c.status <- m:
		default:
		}
		return nil
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

func (c *Client) onOffer(m protocol.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pc == nil {
		return errors.New("client: offer before joined")
	}
	c.mids = make(map[string]protocol.TrackInfo, len(m.Tracks))
	for _, t := range m.Tracks {
		c.mids[t.Mid] = t
	}
	offer, parked := c.parkInactive(m.SDP)
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return err
	}
	for _, cand := range c.pendingICE {
		if err := c.pc.AddICECandidate(cand); err != nil {
			return err
		}
	}
	c.pendingICE = nil
	answer, err := c.pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := c.pc.SetLocalDescription(answer); err != nil {
		return err
	}
	return c.write(protocol.Message{Type: protocol.TypeAnswer, SDP: setDirection(answer.SDP, parked, "inactive")})
}
