package calling

import (
	"log/slog"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
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
	// Quality measures each participant's network quality, per direction,
	// from the media the SFU forwards: the Server attaches its uplink
	// sinks and downlink report readers, ticks it every QualityInterval,
	// and sends the changes the host hands back to NetworkQualityChanged
	// as networkQuality and participantNetworkQuality messages. A
	// *netquality.Monitor is one (docs/netquality.md). Default nil: no
	// measurement, no events.
	Quality QualityMonitor
	// QualityInterval is how often the Server ticks Quality, on Clock.
	// Default DefaultQualityInterval (1 s).
	QualityInterval time.Duration
	// Recorder records calls and rooms: the Server asks it when a call is
	// answered and when a participant joins a room that is not recorded,
	// hands it the tracks of what it records, tells the participants
	// (recordingStarted, recordingStopped) and stops it at the end; the
	// REST API starts and stops recordings on demand through
	// Server.StartRecording and StopRecording. Default nil: nothing is
	// recorded.
	Recorder Recorder
	// Waker wakes callees who have no live connection (package push), on
	// a goroutine of its own per call (see Waker). Nil: such calls fail
	// with callee_offline.
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
	// Cluster shares this Server with the other nodes of a deployment
	// (docs/cluster.md): rooms are placed on nodes, an identity that may
	// receive calls has a home node, and a connection that reaches another
	// node is relayed to the node that serves what it asks for. Nil (the
	// default): one node.
	Cluster Cluster
	// ClusterSecret authenticates the relays and requests between nodes;
	// every node has the same, at least 32 bytes. Required with Cluster.
	ClusterSecret []byte
	// ClusterLeaseInterval is how often the Server claims again the room
	// and identity leases it serves (which also restores them after the
	// cluster's store lost them). Default 3 s.
	ClusterLeaseInterval time.Duration
	// StoreRetryInterval is how often the Server tries again the store
	// writes that take back a failed join or a departure (a participant,
	// a membership, streams, an emptied call session) and that failed
	// because the shared store (Rooms' Store) was unavailable, until each
	// succeeds: nothing stays half-written once the store is back. Runs on
	// Clock. Limits.PendingStoreWrites bounds how many wait. Default
	// DefaultStoreRetryInterval (1 s).
	StoreRetryInterval time.Duration
	// Limits bound connections, PeerConnections, rooms, joins, ICE
	// candidates and message floods; see Limits for each default.
	Limits Limits
	// Clock of the calls, the rate limits, token expiry and session activity. Default: the real one.
	Clock Clock
	// Logger. Default: discard.
	Logger *slog.Logger
}

// Clock is the time source of the Server and of Webhooks: ring and media
// timeouts, rate limits, token expiry, session activity, timestamps and
// webhook backoff. Nil in a Config means the real clock; tests inject one
// they move by hand. Implementations must be safe for concurrent use.
type Clock interface {
	Now() time.Time
	// AfterFunc runs f after d; the returned function stops it.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// Defaults of Config.
const (
	DefaultMaxBroadcastBytes = rooms.MaxBroadcastBytes
	DefaultMessageRate       = 50
	DefaultMessageBurst      = 100
	DefaultWriteQueue        = 256
	DefaultPingInterval      = 5 * time.Second
	DefaultPingTimeout       = 4 * time.Second
)
