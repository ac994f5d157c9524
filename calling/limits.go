package calling

import (
	"net/http"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// Defaults of Limits. They keep one Server on a small machine (2 cores,
// a few GiB) responsive under abuse; docs/benchmarks.md has the memory and
// goroutines each connection and participant costs.
const (
	DefaultConnectionsPerIdentity = 8
	DefaultMaxConnections         = 4096
	DefaultMaxPeerConnections     = 1024
	DefaultMaxRooms               = 512
	DefaultJoinRate               = 20 // joins per second, whole server
	DefaultJoinBurst              = 40
	DefaultConnJoinRate           = 1 // joins per second, one connection
	DefaultConnJoinBurst          = 3
	DefaultConnCallRate           = 1 // calls placed per second, one connection
	DefaultConnCallBurst          = 5
	DefaultMaxCalls               = 10_000
	DefaultRemoteCandidates       = 64
	DefaultFloodMessages          = 100
	DefaultPendingStoreWrites     = 10_000
)

// Limits bound what clients can make a Server hold. A zero field takes its
// default; a negative one turns that limit off (never do that on a server
// strangers can reach). Refusals are documented per field: at connect time
// an HTTP status with a JSON {"code","message"} body, sent before the
// WebSocket upgrade (a browser sees only a failed WebSocket); at join an
// error message with a stable reason.
type Limits struct {
	// ConnectionsPerIdentity caps the open signaling connections of one
	// identity (account + subject). One more is refused with HTTP 429
	// too_many_connections. Default 8.
	ConnectionsPerIdentity int
	// Connections caps the open signaling connections of the server, with a
	// valid token or not. One more is refused with HTTP 503 server_full.
	// Default 4096.
	Connections int
	// PeerConnections caps the live PeerConnections (one per participant in
	// a room or call). A join past it gets error 503 server_full; a call
	// answered past it fails with media_failed. Default 1024.
	PeerConnections int
	// Rooms caps the live rooms: sessions (rooms and 1:1 calls) with at
	// least one participant connected to this server. A join that would open
	// one more gets error 503 server_full; a call answered past it fails
	// with media_failed. Default 512.
	Rooms int
	// JoinRate and JoinBurst: joins per second on the whole server, a token
	// bucket. A join over it gets error 429 join_rate_limited. Defaults 20/s
	// and 40.
	JoinRate  float64
	JoinBurst int
	// ConnJoinRate and ConnJoinBurst: join attempts per second on one
	// connection (failed ones count). Over it: error 429 join_rate_limited.
	// Defaults 1/s and 3.
	ConnJoinRate  float64
	ConnJoinBurst int
	// ConnCallRate and ConnCallBurst: calls placed per second on one
	// connection (refused ones count), a token bucket. Over it: error 429
	// call_rate_limited. Defaults 1/s and 5.
	ConnCallRate  float64
	ConnCallBurst int
	// Calls caps the calls a Server holds: live ones and ended ones kept
	// for Config.CallRetention (GET /v1/calls/{id}). At the cap the call
	// that ended first is forgotten early; when none has ended, a new call
	// is refused with error 503 server_full (REST: 503 server_full).
	// Default 10,000.
	Calls int
	// RemoteCandidates caps the ICE candidates a client sends for one
	// PeerConnection, trickled and in answers together. One more is refused
	// with error 400 too_many_candidates. Default 64.
	RemoteCandidates int
	// CandidateNetworks are where a client's ICE candidates may point: CIDR
	// prefixes ("10.1.0.0/16", "0.0.0.0/0") or "public" (every globally
	// routable address). Candidates elsewhere are ignored, so a client
	// cannot make the server send STUN to arbitrary hosts. Default: the
	// server's own ICE networks, computed once by New from
	// MediaConfig.ICEIPs (every interface when it is empty) and
	// MediaConfig.NAT1To1IPs: a loopback address allows only itself, a
	// private one the subnet of its interface, a public one every public
	// address. Whatever this says, link-local and cloud metadata addresses
	// (169.254.0.0/16, fe80::/10, fd00:ec2::254, 100.100.100.200,
	// 168.63.129.16), unspecified, multicast and broadcast addresses, mDNS
	// (.local) and other host names are always ignored.
	CandidateNetworks []string
	// FloodMessages: a connection over MessageRate gets one error 429
	// rate_limited and its excess messages are dropped; after this many more
	// dropped messages (before its bucket has refilled) it is closed with
	// 4429. Default 100.
	FloodMessages int
	// PendingStoreWrites caps the store writes waiting for a shared store
	// that was unavailable (Config.StoreRetryInterval). Past it a write is
	// tried once and, if it fails, logged and lost (a stale participant or
	// membership stays in the store). Default 10,000.
	PendingStoreWrites int
}

// Usage is what a Server holds now, to compare with its Limits.
type Usage struct {
	Connections     int // open signaling connections
	PeerConnections int // live PeerConnections
	Rooms           int // sessions with at least one PeerConnection
}

// Usage reports the server's current load. Safe for concurrent use.
func (s *Server) Usage() Usage {
	l := s.lim
	l.mu.Lock()
	defer l.mu.Unlock()
	return Usage{Connections: l.conns, PeerConnections: len(l.pcs), Rooms: len(l.roomRefs)}
}

// limiter holds the server-wide counters and buckets. Safe for concurrent use.
type limiter struct {
	cfg   Limits
	clock Clock
	joins *rate.Limiter
	ice   *candidatePolicy

	mu       sync.Mutex
	conns    int
	perIdent map[identKey]int
	pcs      map[*peer]roomKey // the session each PeerConnection is in
	roomRefs map[roomKey]int   // PeerConnections per session
}

func newLimiter(l Limits, media MediaConfig, clock Clock) (*limiter, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.ConnectionsPerIdentity, DefaultConnectionsPerIdentity)
	def(&l.Connections, DefaultMaxConnections)
	def(&l.PeerConnections, DefaultMaxPeerConnections)
	def(&l.Rooms, DefaultMaxRooms)
	def(&l.JoinBurst, DefaultJoinBurst)
	def(&l.ConnJoinBurst, DefaultConnJoinBurst)
	def(&l.RemoteCandidates, DefaultRemoteCandidates)
	def(&l.ConnCallBurst, DefaultConnCallBurst)
	def(&l.Calls, DefaultMaxCalls)
	def(&l.FloodMessages, DefaultFloodMessages)
	def(&l.PendingStoreWrites, DefaultPendingStoreWrites)
	if l.JoinRate == 0 {
		l.JoinRate = DefaultJoinRate
	}
	if l.ConnJoinRate == 0 {
		l.ConnJoinRate = DefaultConnJoinRate
	}
	if l.ConnCallRate == 0 {
		l.ConnCallRate = DefaultConnCallRate
	}
	ice, err := newCandidatePolicy(l.CandidateNetworks, media)
	if err != nil {
		return nil, err
	}
	return &limiter{cfg: l, clock: clock, joins: bucket(l.JoinRate, l.JoinBurst), ice: ice,
		perIdent: map[identKey]int{}, pcs: map[*peer]roomKey{}, roomRefs: map[roomKey]int{}}, nil
}

// bucket is a token bucket; a negative rate or burst means no limit.
func bucket(r float64, burst int) *rate.Limiter {
	if r < 0 || burst < 0 {
		return rate.NewLimiter(rate.Inf, 0)
	}
	return rate.NewLimiter(rate.Limit(r), burst)
}

// over reports whether n has reached a limit (a negative limit is off).
func over(n, limit int) bool { return limit >= 0 && n >= limit }

// admitConn reserves a connection for claims (nil: a token that did not
// verify, counted in the total only). The release function is idempotent.
func (l *limiter) admitConn(c *auth.Claims) (release func(), err error) {
	var k identKey
	if c != nil {
		k = identKey{c.Account, c.Subject}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if over(l.conns, l.cfg.Connections) {
		return nil, httpx.Errorf(http.StatusServiceUnavailable, "server_full", "the server has too many connections; retry later")
	}
	if c != nil && over(l.perIdent[k], l.cfg.ConnectionsPerIdentity) {
		return nil, httpx.Errorf(http.StatusTooManyRequests, "too_many_connections", "this identity has %d open connections; close one first", l.perIdent[k])
	}
	l.conns++
	if c != nil {
		l.perIdent[k]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.conns--
			if c != nil {
				if l.perIdent[k]--; l.perIdent[k] <= 0 {
					delete(l.perIdent, k)
				}
			}
		})
	}, nil
}

// acquirePC reserves a PeerConnection for p in session k.
func (l *limiter) acquirePC(p *peer, k roomKey) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.releasePCLocked(p) // a peer holds one at most
	if over(len(l.pcs), l.cfg.PeerConnections) {
		return &protocol.Error{Code: 503, Reason: protocol.ReasonServerFull, Message: "the server has too many participants; retry later"}
	}
	if l.roomRefs[k] == 0 && over(len(l.roomRefs), l.cfg.Rooms) {
		return &protocol.Error{Code: 503, Reason: protocol.ReasonServerFull, Message: "the server has too many live rooms; retry later"}
	}
	l.pcs[p] = k
	l.roomRefs[k]++
	return nil
}

// releasePC frees p's PeerConnection slot, if it holds one.
func (l *limiter) releasePC(p *peer) {
	l.mu.Lock()
	l.releasePCLocked(p)
	l.mu.Unlock()
}

func (l *limiter) releasePCLocked(p *peer) {
	k, ok := l.pcs[p]
	if !ok {
		return
	}
	delete(l.pcs, p)
	if l.roomRefs[k]--; l.roomRefs[k] <= 0 {
		delete(l.roomRefs, k)
	}
}

// peerLimits is a connection's own share of the limits (loop only).
type peerLimits struct {
	joins  *rate.Limiter          // join attempts; made at the first one
	calls  *rate.Limiter          // calls placed; made at the first one
	candPC *webrtc.PeerConnection // the PeerConnection seen counts for
	seen   map[string]struct{}    // distinct remote candidates of candPC
}

// admitJoin applies the join rates: the connection's, then the server's.
func (p *peer) admitJoin() error {
	l := p.srv.lim
	if p.lim.joins == nil {
		p.lim.joins = bucket(l.cfg.ConnJoinRate, l.cfg.ConnJoinBurst)
	}
	now := l.clock.Now()
	if !p.lim.joins.AllowN(now, 1) {
		return &protocol.Error{Code: 429, Reason: protocol.ReasonJoinRateLimited, Message: "too many joins on this connection; slow down"}
	}
	if !l.joins.AllowN(now, 1) {
		return &protocol.Error{Code: 429, Reason: protocol.ReasonJoinRateLimited, Message: "the server is taking too many joins; retry shortly"}
	}
	return nil
}

// admitCall applies the connection's call rate.
func (p *peer) admitCall() error {
	l := p.srv.lim
	if p.lim.calls == nil {
		p.lim.calls = bucket(l.cfg.ConnCallRate, l.cfg.ConnCallBurst)
	}
	if !p.lim.calls.AllowN(l.clock.Now(), 1) {
		return &protocol.Error{Code: 429, Reason: protocol.ReasonCallRateLimited, Message: "too many calls placed on this connection; slow down"}
	}
	return nil
}

// floodGuard is a connection's message bucket: the first message over it
// gets a warning, the next FloodMessages are dropped, one more closes the
// connection. A bucket that refills forgives the past. Reader goroutine only.
type floodGuard struct {
	lim     *rate.Limiter
	burst   float64
	max     int
	warned  bool
	dropped int
}

type floodVerdict int

const (
	floodPass  floodVerdict = iota // handle the message
	floodWarn                      // drop it and tell the client, once
	floodDrop                      // drop it silently
	floodClose                     // close the connection with 4429
)

func newFloodGuard(r float64, burst, max int) *floodGuard {
	return &floodGuard{lim: rate.NewLimiter(rate.Limit(r), burst), burst: float64(burst), max: max}
}

func (g *floodGuard) admit(now time.Time) floodVerdict {
	if g.warned && g.lim.TokensAt(now) >= g.burst {
		g.warned, g.dropped = false, 0
	}
	if g.lim.AllowN(now, 1) {
		return floodPass
	}
	if !g.warned {
		g.warned = true
		return floodWarn
	}
	g.dropped++
	if g.max >= 0 && g.dropped > g.max {
		return floodClose
	}
	return floodDrop
}
