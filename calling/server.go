package calling

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/internal/clock"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// Defaults of Config.
const (
	DefaultMaxBroadcastBytes = rooms.MaxBroadcastBytes
	DefaultMessageRate       = 50
	DefaultMessageBurst      = 100
	DefaultWriteQueue        = 256
	DefaultPingInterval      = 5 * time.Second
	DefaultPingTimeout       = 4 * time.Second
)

// Config configures a Server. Rooms and Verifier are required; every other
// field has the documented default.
type Config struct {
	// Rooms is the source of truth for membership and subscriptions.
	Rooms *rooms.Manager
	// Verifier checks the user tokens clients connect with.
	Verifier *auth.Verifier
	// API is the pion API peers are made with. Nil: NewAPI(Media).
	API *webrtc.API
	// Media configures the default API (ignored when API is set).
	Media MediaConfig
	// ICEServers are handed to clients in the joined message.
	ICEServers []protocol.ICEServer
	// MaxMessageBytes is the largest signaling message read; a larger one
	// closes the connection with 1009 (message too big). Default
	// protocol.DefaultMaxMessageBytes (64 KiB).
	MaxMessageBytes int64
	// MaxDataMessageBytes is the largest data-channel text. Default
	// protocol.DefaultMaxDataMessageBytes (16 KiB).
	MaxDataMessageBytes int
	// MessageRate and MessageBurst limit signaling messages per connection
	// (a token bucket); excess messages get error 429 and are dropped.
	// Defaults 50/s and 100.
	MessageRate  float64
	MessageBurst int
	// WriteQueue is each connection's outgoing queue; a client that lets it
	// fill is disconnected (close 4008), never allowed to stall others. Default 256.
	WriteQueue int
	// PingInterval and PingTimeout: a WebSocket ping every interval; no
	// pong within the timeout closes the connection. Defaults 5 s and 4 s (a dead peer is gone within 9 s).
	PingInterval, PingTimeout time.Duration
	// OriginPatterns are extra origins allowed to open the WebSocket
	// (coder/websocket AcceptOptions.OriginPatterns); same-origin is always allowed.
	OriginPatterns []string
	// Hooks receive call states, DTMF and participant changes. Default NopHooks.
	Hooks Hooks
	// HookQueue is the number of events waiting for Hooks that are held; past
	// it the oldest is dropped, counted (Server.DroppedHookEvents) and logged.
	// A *Webhooks uses its own outbox instead. Default DefaultOutboxLimit.
	HookQueue int
	// HookConcurrency is how many hook calls run at once, for different
	// calls or sessions. Default DefaultHookConcurrency.
	HookConcurrency int
	// TrackObserver learns of every published track, with its sfu.Track, so
	// the host can attach a sink (a recorder, a quality probe). It is called
	// on a goroutine of its own, never on the signaling or media paths.
	// Default nil: none.
	TrackObserver TrackObserver
	// Waker wakes callees who have no live connection (package push). Nil:
	// such calls fail with callee_offline.
	Waker Waker
	// RingTimeout ends an unanswered call with no_answer. Default 45 s.
	RingTimeout time.Duration
	// MediaTimeout fails an answered call whose media is not up with timeout. Default 20 s.
	MediaTimeout time.Duration
	// Presence holds the busy marks of calls. Default NewMemoryPresence()
	// (this process); a shared one makes "busy" hold across nodes.
	Presence Presence
	// CallRetention keeps an ended call visible to GET /v1/calls/{id} this
	// long, then forgets it. Default 1 h.
	CallRetention time.Duration
	// TokenCheckInterval is how often every open connection checks whether
	// its token was revoked; a revoked token's connection is closed within
	// about this long. Expiry needs no polling: a timer on Clock fires at
	// the token's exp. Default 1 s.
	TokenCheckInterval time.Duration
	// SessionTouchInterval is how often the Server marks the sessions it has
	// connections in as active (rooms.Manager.Touch), so a session in use is
	// never ended as idle. Runs on Clock. Default 1 min.
	SessionTouchInterval time.Duration
	// Limits bound connections, PeerConnections, rooms, joins, ICE
	// candidates and message floods; see Limits for each default.
	Limits Limits
	// Clock of the calls, the rate limits, token expiry and session activity. Default: the real one.
	Clock Clock
	// Logger. Default: discard.
	Logger *slog.Logger
}

// Server is the signaling endpoint and the SFU. Mount it at /v1/signal.
// It is safe for concurrent use. Close it to end every connection.
type Server struct {
	cfg       Config
	api       *webrtc.API
	apiCloser io.Closer
	log       *slog.Logger
	lim       *limiter

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	rooms map[roomKey]*room

	touchMu   sync.Mutex
	touchStop func() bool // the pending session touch

	closeOnce sync.Once
	closeErr  error

	clock     Clock
	hooks     hookQueue
	callsMu   sync.Mutex
	calls     map[string]*Call
	callsOf   map[identKey]map[*Call]struct{} // calls by From and To, for goOffline
	peers     map[*peer]struct{}              // every open connection
	online    map[identKey]map[*peer]struct{} // connections that may ring
	connected map[identKey]int                // all connections per identity
}

var (
	_ http.Handler      = (*Server)(nil)
	_ rooms.Broadcaster = (*Server)(nil)
)

// New validates cfg and returns a running Server.
func New(cfg Config) (*Server, error) {
	if cfg.Rooms == nil || cfg.Verifier == nil {
		return nil, errors.New("calling: Config needs Rooms and Verifier")
	}
	cfg.MaxMessageBytes = cmp.Or(cfg.MaxMessageBytes, protocol.DefaultMaxMessageBytes)
	cfg.MaxDataMessageBytes = cmp.Or(cfg.MaxDataMessageBytes, protocol.DefaultMaxDataMessageBytes)
	cfg.MessageRate = cmp.Or(cfg.MessageRate, DefaultMessageRate)
	cfg.MessageBurst = cmp.Or(cfg.MessageBurst, DefaultMessageBurst)
	cfg.WriteQueue = cmp.Or(cfg.WriteQueue, DefaultWriteQueue)
	cfg.PingInterval = cmp.Or(cfg.PingInterval, DefaultPingInterval)
	cfg.PingTimeout = cmp.Or(cfg.PingTimeout, DefaultPingTimeout)
	if cfg.MaxMessageBytes < 1024 || cfg.MaxDataMessageBytes < 1 || cfg.MessageRate < 0 || cfg.MessageBurst < 1 || cfg.WriteQueue < 1 {
		return nil, errors.New("calling: Config has a limit that is too small")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Hooks == nil {
		cfg.Hooks = NopHooks{}
	}
	cfg.RingTimeout = cmp.Or(cfg.RingTimeout, 45*time.Second)
	cfg.MediaTimeout = cmp.Or(cfg.MediaTimeout, 20*time.Second)
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	cfg.CallRetention = cmp.Or(cfg.CallRetention, time.Hour)
	if cfg.Presence == nil {
		cfg.Presence = NewMemoryPresence()
	}
	cfg.TokenCheckInterval = cmp.Or(cfg.TokenCheckInterval, DefaultTokenCheckInterval)
	cfg.SessionTouchInterval = cmp.Or(cfg.SessionTouchInterval, DefaultSessionTouchInterval)
	if cfg.TokenCheckInterval < 0 || cfg.SessionTouchInterval < 0 {
		return nil, errors.New("calling: intervals must be positive")
	}
	s := &Server{cfg: cfg, api: cfg.API, log: cfg.Logger, rooms: make(map[roomKey]*room),
		clock: cfg.Clock, calls: map[string]*Call{}, callsOf: map[identKey]map[*Call]struct{}{}, peers: map[*peer]struct{}{},
		online: map[identKey]map[*peer]struct{}{}, connected: map[identKey]int{}}
	if err := s.initHooks(); err != nil {
		return nil, err
	}
	lim, err := newLimiter(cfg.Limits, cfg.Media, cfg.Clock)
	if err != nil {
		return nil, err
	}
	s.lim = lim
	if s.api == nil {
		if cfg.Media.Logger == nil {
			cfg.Media.Logger = cfg.Logger
		}
		api, closer, err := NewAPI(cfg.Media)
		if err != nil {
			return nil, err
		}
		s.api, s.apiCloser = api, closer
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	events := cfg.Rooms.Subscribe(s.ctx)
	s.wg.Add(3)
	go s.dispatch(events)
	go s.runHooks()
	go s.watchTokens()
	s.scheduleTouch()
	return s, nil
}

// Close fails every call in progress (server_shutdown), ends every
// connection and peer, waits for their goroutines, and releases the UDP
// port of a default API. Calling it again returns the first result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	s.callsMu.Lock()
	var live []*Call
	for _, c := range s.calls {
		live = append(live, c)
	}
	s.callsMu.Unlock()
	for _, c := range live {
		c.mu.Lock()
		if c.state != protocol.StateEnded && c.state != protocol.StateFailed {
			_ = c.setState(protocol.StateFailed, protocol.CauseServerShutdown)
		}
		c.mu.Unlock()
	}
	s.cancel()
	s.touchMu.Lock()
	if s.touchStop != nil {
		s.touchStop()
	}
	s.touchMu.Unlock()
	s.wg.Wait()
	if s.apiCloser != nil {
		return s.apiCloser.Close()
	}
	return nil
}

// dispatch routes room events to the live rooms until the server closes.
func (s *Server) dispatch(events *rooms.Events) {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case e, ok := <-events.C:
			if !ok {
				if s.ctx.Err() != nil {
					return
				}
				// Dropped as a slow consumer: resubscribe and resync everyone.
				s.log.Warn("room events dropped; resynchronising", "err", events.Err())
				events = s.cfg.Rooms.Subscribe(s.ctx)
				for _, r := range s.liveRooms() {
					r.pokeAll()
				}
				continue
			}
			r := s.lookupRoom(roomKey{e.Account, e.SessionID})
			if r == nil {
				continue
			}
			switch e.Type {
			case rooms.SessionEnded:
				if !r.isCall() {
					r.closeAll(protocol.CloseSessionEnded, "session ended")
				}
			default:
				r.pokeAll()
			}
		}
	}
}

func (s *Server) liveRooms() []*room {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		out = append(out, r)
	}
	return out
}

func (s *Server) lookupRoom(k roomKey) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[k]
}

// attach puts p into the room of k (creating the live room), replacing an
// older connection of the same participant.
func (s *Server) attach(k roomKey, p *peer) (*room, *peer) {
	// Added under s.mu, so a detach of the last member cannot drop the
	// room between the lookup and the add (lock order: s.mu, then r.mu).
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[k]
	if !ok {
		r = newRoom(k)
		s.rooms[k] = r
	}
	return r, r.add(p)
}

// detach removes p from its room, drops the room when nobody is left, and
// reports whether p was still its participant's connection (false: a newer
// connection replaced it and holds the participant now).
func (s *Server) detach(r *room, p *peer) (current bool) {
	current, empty := r.remove(p)
	if empty {
		s.mu.Lock()
		if r.isEmpty() && s.rooms[r.key] == r {
			delete(s.rooms, r.key)
		}
		s.mu.Unlock()
	}
	return current
}

// ServeHTTP upgrades to the signaling WebSocket. The user token comes in
// Authorization: Bearer or (browsers) the access_token query parameter; a
// bad token gets an error message and close code 4403, a bad identity 4406.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.ctx.Err() != nil {
		httpx.WriteError(w, httpx.Errorf(http.StatusServiceUnavailable, "shutting_down", "server is shutting down"))
		return
	}
	// Browsers cannot set headers on a WebSocket: the query parameter is
	// allowed here (and nowhere on the REST API unless the host enables it).
	token, _ := auth.TokenFromRequest(r, true)
	claims, verr := s.cfg.Verifier.Verify(r.Context(), token)
	release, err := s.lim.admitConn(claims) // before the upgrade: a refusal is HTTP 429/503 + JSON
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	defer release()
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.cfg.OriginPatterns})
	if err != nil {
		return // Accept wrote the HTTP error
	}
	conn.SetReadLimit(s.cfg.MaxMessageBytes)
	if err := verr; err != nil {
		pe := protocolError(err)
		if pe.Code == 500 {
			pe = &protocol.Error{Code: 403, Reason: protocol.ReasonTokenInvalid, Message: "token expired or invalid; refresh it and retry"}
		}
		refuse(r.Context(), conn, pe)
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	p := newPeer(s, conn, claims)
	p.run()
	s.lim.releasePC(p) // a safety net: leaving the session has released it
}

// refuse sends an error message and closes with 4000+code.
func refuse(ctx context.Context, conn *websocket.Conn, pe *protocol.Error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_ = conn.Write(ctx, websocket.MessageText, encode(&protocol.Message{Type: protocol.TypeError, Error: pe}))
	_ = conn.Close(websocket.StatusCode(4000+pe.Code), pe.Reason)
}

// Broadcast sends text to every endpoint of the session that has an open
// data channel, as a broadcast event {text, date}, and returns how many
// received it (Infobip's broadcast-webrtc-text). It is the rooms.Broadcaster
// behind POST /v1/sessions/{sid}/broadcast; text over
// DefaultMaxBroadcastBytes is ErrTextTooLong.
func (s *Server) Broadcast(_ context.Context, account, sessionID, text string) (int, error) {
	if len(text) > DefaultMaxBroadcastBytes {
		return 0, ErrTextTooLong
	}
	r := s.lookupRoom(roomKey{account, sessionID})
	if r == nil {
		return 0, nil
	}
	b, _ := json.Marshal(protocol.DataEnvelope{Type: protocol.DataBroadcast, Text: text, Date: s.clock.Now().UTC()})
	n := 0
	for _, p := range r.snapshot() {
		if p.sendData(string(b)) {
			n++
		}
	}
	return n, nil
}
