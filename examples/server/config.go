package main

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/rooms"
)

type config struct {
	addr      string
	data      string
	iceIPs    []string
	natIPs    []string
	stun      []string
	keyFile   string
	udpPort   int
	sendBatch int
	joinRate  float64 // calling.Limits.JoinRate (burst twice that)
	peerConns int     // calling.Limits.PeerConnections
	webhook   string
	whSecret  string
	user      string
	secret    string
	demo      demoConfig
	http      httpLimits

	recording recordingConfig // recording.go
	// ringTimeout is how long an unanswered call rings (-ring-timeout);
	// 0 is calling's default.
	ringTimeout time.Duration
	push        pushConfig
	cluster     clusterConfig // cluster.go
	// maxParticipants caps the participants of one session or room
	// (-max-participants; rooms.Config.MaxParticipantsPerSession).
	maxParticipants int
	ops             opsConfig // metrics.go
	drain           drainConfig
}

// drainConfig is how the server stops (-drain-*, -ready-check-timeout; drain.go).
type drainConfig struct {
	// timeout bounds the drain on SIGTERM or SIGINT: calls and rooms have
	// that long to end before they are cut (0: no drain).
	timeout time.Duration
	// reconnectURL is where drained clients are told to connect ("": the
	// same URL, right behind a load balancer).
	reconnectURL string
	// readyTimeout bounds each readiness check of GET /readyz.
	readyTimeout time.Duration
}

// demoConfig is the browser demo's setting (-demo*, SWITCHBOARD_DEMO_API_SECRET).
type demoConfig struct {
	on bool
	// public serves the demo to any address, not only loopback
	// (-demo-insecure-public): anyone who reaches it gets demo tokens.
	public bool
	// perMinute is how many demo tokens one client address gets per minute.
	perMinute int
	// ttl is a demo token's lifetime (-demo-token-ttl): short, as a real
	// app's tokens should be; the page refreshes them in band.
	ttl time.Duration
	// apiSecret is the secret of the demo account's API client (demo-admin).
	apiSecret string
}

// httpLimits are the http.Server's timeouts and header limit. They do not
// cut the signaling WebSocket: net/http clears a connection's deadlines when
// a handler takes it over (the WebSocket upgrade), so a signaling connection
// lives past ReadTimeout and WriteTimeout (TestSignalingOutlivesTimeouts).
type httpLimits struct {
	readHeader, read, write, idle time.Duration
	maxHeaderBytes                int
}

// The defaults of the -http-* flags.
var defaultHTTPLimits = httpLimits{
	readHeader:     10 * time.Second,
	read:           30 * time.Second,
	write:          30 * time.Second,
	idle:           2 * time.Minute,
	maxHeaderBytes: 64 << 10,
}

func parseFlags(args []string, getenv func(string) string) (config, error) {
	var c config
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&c.data, "data", "", "folder for state that must survive a restart: the webhook outbox (<data>/webhooks), the recordings (<data>/recordings; without -data they go to a temporary folder removed at exit)")
	fs.Func("ice-ip", "restrict ICE candidates to this address (repeatable), e.g. 127.0.0.1; unset = all interfaces", func(s string) error {
		if net.ParseIP(s) == nil {
			return fmt.Errorf("not an IP address: %q", s)
		}
		c.iceIPs = append(c.iceIPs, s)
		return nil
	})
	fs.Func("nat-ip", "behind 1:1 NAT: the public address to advertise in ICE candidates instead of the host's (repeatable)", func(s string) error {
		if net.ParseIP(s) == nil {
			return fmt.Errorf("not an IP address: %q", s)
		}
		c.natIPs = append(c.natIPs, s)
		return nil
	})
	fs.Func("ice-server", "a STUN/TURN URL handed to clients, e.g. stun:stun.example.com:3478 (repeatable)", func(s string) error {
		if !strings.HasPrefix(s, "stun:") && !strings.HasPrefix(s, "turn:") && !strings.HasPrefix(s, "turns:") {
			return fmt.Errorf("not a stun:, turn: or turns: URL: %q", s)
		}
		c.stun = append(c.stun, s)
		return nil
	})
	fs.StringVar(&c.keyFile, "key", "", "PEM file of the token signing key (P-256 ECDSA or Ed25519; every node of a cluster uses the same); default: generated at start")
	fs.IntVar(&c.udpPort, "udp-port", 0, "the one UDP port all media shares (0: any free port)")
	fs.IntVar(&c.sendBatch, "send-batch", 0, "datagrams sent per system call when a packet fans out to many subscribers (0: 64; -1: one sendto each)")
	fs.StringVar(&c.webhook, "webhook-url", "", "POST call states, DTMF and participant events here, signed with SWITCHBOARD_WEBHOOK_SECRET (docs/webhooks.md)")
	fs.BoolVar(&c.demo.on, "demo", true, "serve the browser demo at / and hand out demo tokens at /demo/token, to loopback clients only (turn off anywhere real)")
	fs.BoolVar(&c.demo.public, "demo-insecure-public", false, "INSECURE: serve the demo and its open token endpoint to every address, not only loopback")
	fs.IntVar(&c.demo.perMinute, "demo-tokens-per-minute", 20, "demo tokens one client address gets per minute")
	fs.DurationVar(&c.demo.ttl, "demo-token-ttl", time.Minute, "lifetime of a demo token (the demo page refreshes its token in band before it expires)")
	fs.DurationVar(&c.ringTimeout, "ring-timeout", 45*time.Second, "how long an unanswered call rings before it ends no_answer (a push wake-up is valid as long)")
	recordingFlags(fs, &c.recording)
	fs.DurationVar(&c.drain.timeout, "drain-timeout", 30*time.Second, "on SIGTERM or SIGINT, how long calls and rooms may go on while the server drains (new connections refused, idle ones sent elsewhere) before it shuts down; 0: no drain")
	fs.StringVar(&c.drain.reconnectURL, "drain-reconnect-url", "", "the ws:// or wss:// URL drained clients are told to connect to (default: the same URL, e.g. behind a load balancer)")
	fs.DurationVar(&c.drain.readyTimeout, "ready-check-timeout", 2*time.Second, "how long each readiness check of GET /readyz may take")
	clusterFlags(fs, &c.cluster)
	fs.Float64Var(&c.joinRate, "join-rate", calling.DefaultJoinRate, "joins per second the whole server accepts (a token bucket with a burst of twice that); a join over it gets error 429 join_rate_limited")
	fs.IntVar(&c.peerConns, "max-peer-connections", calling.DefaultMaxPeerConnections, "live PeerConnections (participants in rooms and calls) the server holds; a join past it gets error 503 server_full")
	fs.IntVar(&c.maxParticipants, "max-participants", rooms.DefaultMaxParticipants, "participants of one session or room; a join past it is error 409 session_full (Bandwidth's default is 20; a webinar needs more)")
	opsFlags(fs, &c.ops)
	c.http = defaultHTTPLimits
	fs.DurationVar(&c.http.readHeader, "http-read-header-timeout", c.http.readHeader, "time to read a request's headers")
	fs.DurationVar(&c.http.read, "http-read-timeout", c.http.read, "time to read a whole request, body included (not the signaling WebSocket once upgraded)")
	fs.DurationVar(&c.http.write, "http-write-timeout", c.http.write, "time to write a response (not the signaling WebSocket once upgraded)")
	fs.DurationVar(&c.http.idle, "http-idle-timeout", c.http.idle, "how long an idle keep-alive connection stays open")
	fs.IntVar(&c.http.maxHeaderBytes, "http-max-header-bytes", c.http.maxHeaderBytes, "largest request header block, in bytes")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.maxParticipants < 2 {
		return c, fmt.Errorf("-max-participants must be at least 2")
	}
	if c.ringTimeout <= 0 {
		return c, fmt.Errorf("-ring-timeout must be positive")
	}
	if !(c.joinRate >= 0.5) { // NaN too
		return c, fmt.Errorf("-join-rate must be at least 0.5")
	}
	if c.peerConns < 1 {
		return c, fmt.Errorf("-max-peer-connections must be at least 1")
	}
	if c.sendBatch < -1 {
		return c, fmt.Errorf("-send-batch must be -1, 0 or positive")
	}
	if c.drain.timeout < 0 || c.drain.readyTimeout <= 0 {
		return c, fmt.Errorf("-drain-timeout must not be negative and -ready-check-timeout must be positive")
	}
	if u := c.drain.reconnectURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "ws" && pu.Scheme != "wss") || pu.Host == "" {
			return c, fmt.Errorf("-drain-reconnect-url must be an absolute ws:// or wss:// URL")
		}
	}
	if c.demo.perMinute < 1 {
		return c, fmt.Errorf("-demo-tokens-per-minute must be at least 1")
	}
	if c.http.readHeader <= 0 || c.http.read <= 0 || c.http.write <= 0 || c.http.idle <= 0 || c.http.maxHeaderBytes <= 0 {
		return c, fmt.Errorf("the -http-* timeouts and -http-max-header-bytes must be positive")
	}
	c.demo.apiSecret = getenv("SWITCHBOARD_DEMO_API_SECRET")
	c.user, c.secret = getenv("SWITCHBOARD_API_USER"), getenv("SWITCHBOARD_API_SECRET")
	c.whSecret = getenv("SWITCHBOARD_WEBHOOK_SECRET")
	if c.webhook != "" && len(c.whSecret) < 16 {
		return c, fmt.Errorf("-webhook-url needs SWITCHBOARD_WEBHOOK_SECRET of at least 16 bytes")
	}
	c.cluster.fromEnv(getenv)
	if err := c.cluster.validate(c.keyFile); err != nil {
		return c, err
	}
	var err error
	if c.push, err = pushFromEnv(getenv); err != nil {
		return c, err
	}
	return c, nil
}
