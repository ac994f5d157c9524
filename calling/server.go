package calling

import (
	"cmp"
	"context"
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
	"github.com/switchboard-rtc/switchboard/calling/sfu"
	"github.com/switchboard-rtc/switchboard/internal/clock"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// Server is the signaling endpoint and the SFU. Mount it at /v1/signal.
// It is safe for concurrent use. Close it to end every connection.
type Server struct {
	cfg       Config
	api       *webrtc.API
	batch     sfu.Batcher // the sockets' send batching; nil: none
	apiCloser io.Closer
	// withFeedback makes a PeerConnection's API (newPeerConnection); nil
	// with a host's Config.API.
	withFeedback func(*feedback) *webrtc.API
	log          *slog.Logger
	lim          *limiter

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
	recs      recordings
	callsMu   sync.Mutex
	calls     map[string]*Call
	callsOf   map[identKey]map[*Call]struct{} // calls by From and To, for goOffline
	ended     []*Call                         // retained calls in the order they ended
	peers     map[*peer]struct{}              // every open connection
	online    map[identKey]map[*peer]struct{} // connections that may ring
	connected map[identKey]int                // all connections per identity
	quality   qualityParts                    // participants Config.Quality scores
	homes     homes                           // identity homes held here (Config.Cluster)
	relayHTTP *http.Client                    // relays and requests to other nodes
	retry     storeRetry                      // store writes waiting for an unavailable store
	stats     serverStats                     // for Stats (stats.go)
	drain     drainer                         // drain.go
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
	cfg.QualityInterval = cmp.Or(cfg.QualityInterval, DefaultQualityInterval)
	cfg.ClusterLeaseInterval = cmp.Or(cfg.ClusterLeaseInterval, DefaultClusterLeaseInterval)
	if cfg.Cluster != nil && len(cfg.ClusterSecret) < 32 {
		return nil, errors.New("calling: Config.Cluster needs a ClusterSecret of at least 32 bytes")
	}
	cfg.StoreRetryInterval = cmp.Or(cfg.StoreRetryInterval, DefaultStoreRetryInterval)
	if cfg.TokenCheckInterval < 0 || cfg.SessionTouchInterval < 0 || cfg.QualityInterval < 0 || cfg.ClusterLeaseInterval < 0 || cfg.StoreRetryInterval < 0 {
		return nil, errors.New("calling: intervals must be positive")
	}
	s := &Server{cfg: cfg, api: cfg.API, log: cfg.Logger, rooms: make(map[roomKey]*room),
		clock: cfg.Clock, calls: map[string]*Call{}, callsOf: map[identKey]map[*Call]struct{}{}, peers: map[*peer]struct{}{},
		online: map[identKey]map[*peer]struct{}{}, connected: map[identKey]int{}, quality: qualityParts{parts: map[string]*qualityPart{}},
		recs: recordings{live: map[roomKey]*liveRecording{}}, homes: homes{n: map[identKey]int{}},
		relayHTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: time.Minute}}}
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
		m, err := newMedia(cfg.Media)
		if err != nil {
			return nil, err
		}
		s.api, s.apiCloser, s.withFeedback = m.api, m.closer, m.withFeedback
		if m.batch != nil {
			s.batch = m.batch
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	events := cfg.Rooms.Subscribe(s.ctx)
	s.wg.Add(3)
	go s.dispatch(events)
	go s.runHooks()
	go s.watchTokens()
	if cfg.Quality != nil {
		s.wg.Add(1)
		go s.tickQuality()
	}
	if cfg.Cluster != nil {
		s.wg.Add(1)
		go s.keepLeases()
	}
	s.scheduleTouch()
	return s, nil
}

// Close fails every call in progress (server_shutdown), ends every
// connection and peer, stops every recording (and waits for their Stop),
// waits for their goroutines, and releases the UDP port of a default API. Calling it again returns the first result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	s.failLiveCalls(protocol.CauseServerShutdown)
	s.cancel()
	s.touchMu.Lock()
	if s.touchStop != nil {
		s.touchStop()
	}
	s.touchMu.Unlock()
	s.wg.Wait()
	s.closeStoreRetry()   // after the connections' last writes
	s.stopAllRecordings() // none is left unless a Recorder answered late
	s.wg.Wait()
	s.relayHTTP.CloseIdleConnections()
	if s.apiCloser != nil {
		return s.apiCloser.Close()
	}
	return nil
}

// ServeHTTP upgrades to the signaling WebSocket. The user token comes in
// Authorization: Bearer or (browsers) the access_token query parameter; a
// bad token gets an error message and close code 4403, a bad identity 4406;
// a token that cannot be checked because the replay cache is unreachable
// is refused before the upgrade with HTTP 503 store_unavailable.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.ctx.Err() != nil {
		httpx.WriteError(w, httpx.Errorf(http.StatusServiceUnavailable, "shutting_down", "server is shutting down"))
		return
	}
	doneDraining, err := s.drain.admit(r.Header.Get(hdrRelay)) // 503 draining while Drain runs (drain.go)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	defer doneDraining()
	if kind := r.Header.Get(hdrRelay); kind != "" {
		s.serveRelay(w, r, kind) // from another node of the cluster
		return
	}
	// Browsers cannot set headers on a WebSocket: the query parameter is
	// allowed here (and nowhere on the REST API unless the host enables it).
	token, _ := auth.TokenFromRequest(r, true)
	claims, verr := s.cfg.Verifier.Verify(r.Context(), token)
	if httpx.Unavailable(verr) { // the replay cache is away: HTTP 503, so the client retries with the same token
		httpx.WriteError(w, restStoreUnavailable())
		return
	}
	release, err := s.lim.admitConn(claims) // before the upgrade: a refusal is HTTP 429/503 + JSON
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	defer release()
	// In a cluster, a connection that may ring is served by its identity's
	// home node: this one, or another one it is relayed to.
	home := func() {}
	var upstream *websocket.Conn
	if verr == nil && s.cfg.Cluster != nil && claims.CanReceiveCalls() {
		addr, rel, err := s.holdHome(r.Context(), identKey{claims.Account, claims.Subject})
		if err == nil && addr != "" {
			upstream, err = s.dialRelay(r.Context(), addr, relayConnection, token)
		}
		if err != nil {
			httpx.WriteError(w, errorToHTTP(err))
			return
		}
		if rel != nil {
			home = rel
		}
	}
	defer home()
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.cfg.OriginPatterns})
	if err != nil {
		if upstream != nil {
			_ = upstream.CloseNow()
		}
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
	p.tok = token
	if upstream != nil {
		p.noRing = true
		p.rl = p.newRelay(upstream, relayConnection, "")
	}
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
