// Command server is Switchboard's one-command backend: every package composed
// in memory behind one net/http server. See README.md beside this file.
package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

type config struct {
	addr     string
	data     string
	iceIPs   []string
	natIPs   []string
	stun     []string
	keyFile  string
	udpPort  int
	webhook  string
	whSecret string
	user     string
	secret   string
	demo     demoConfig
	http     httpLimits

	recording recordingConfig // recording.go
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
	fs.StringVar(&c.webhook, "webhook-url", "", "POST call states, DTMF and participant events here, signed with SWITCHBOARD_WEBHOOK_SECRET (docs/webhooks.md)")
	fs.BoolVar(&c.demo.on, "demo", true, "serve the browser demo at / and hand out demo tokens at /demo/token, to loopback clients only (turn off anywhere real)")
	fs.BoolVar(&c.demo.public, "demo-insecure-public", false, "INSECURE: serve the demo and its open token endpoint to every address, not only loopback")
	fs.IntVar(&c.demo.perMinute, "demo-tokens-per-minute", 20, "demo tokens one client address gets per minute")
	fs.DurationVar(&c.demo.ttl, "demo-token-ttl", time.Minute, "lifetime of a demo token (the demo page refreshes its token in band before it expires)")
	recordingFlags(fs, &c.recording)
	c.http = defaultHTTPLimits
	fs.DurationVar(&c.http.readHeader, "http-read-header-timeout", c.http.readHeader, "time to read a request's headers")
	fs.DurationVar(&c.http.read, "http-read-timeout", c.http.read, "time to read a whole request, body included (not the signaling WebSocket once upgraded)")
	fs.DurationVar(&c.http.write, "http-write-timeout", c.http.write, "time to write a response (not the signaling WebSocket once upgraded)")
	fs.DurationVar(&c.http.idle, "http-idle-timeout", c.http.idle, "how long an idle keep-alive connection stays open")
	fs.IntVar(&c.http.maxHeaderBytes, "http-max-header-bytes", c.http.maxHeaderBytes, "largest request header block, in bytes")
	if err := fs.Parse(args); err != nil {
		return c, err
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
	return c, nil
}

// run serves until ctx ends. It prints the API credentials and the URLs on out.
func run(ctx context.Context, args []string, out io.Writer, getenv func(string) string) error {
	cfg, err := parseFlags(args, getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	generated := false
	if cfg.user == "" || cfg.secret == "" {
		cfg.user = "api"
		if cfg.secret, err = auth.NewSecret(); err != nil {
			return err
		}
		generated = true
	}
	demoGenerated := false
	if cfg.demo.on && cfg.demo.apiSecret == "" {
		if cfg.demo.apiSecret, err = auth.NewSecret(); err != nil {
			return err
		}
		demoGenerated = true
	}
	app, err := newApp(cfg, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "switchboard listening on %s\n", base)
	if generated {
		fmt.Fprintf(out, "API credentials (generated; set SWITCHBOARD_API_USER and SWITCHBOARD_API_SECRET to choose):\n  user:   %s\n  secret: %s\n", cfg.user, cfg.secret)
	} else {
		fmt.Fprintf(out, "API credentials: user %s (secret from SWITCHBOARD_API_SECRET)\n", cfg.user)
	}
	fmt.Fprintf(out, "try:  curl -u %s:<secret> -d grant_type=client_credentials %s/oauth2/token\n", cfg.user, base)
	if cfg.demo.on {
		who := "loopback clients only"
		if cfg.demo.public {
			who = "INSECURE: every address that reaches it"
		}
		fmt.Fprintf(out, "demo: %s/ (%s; identities %s<name> in account %q)\n", base, who, demoPrefix, demoAccount)
		if demoGenerated {
			fmt.Fprintf(out, "demo account API credentials (its rooms and calls; generated, set SWITCHBOARD_DEMO_API_SECRET to choose):\n  user:   %s\n  secret: %s\n", demoAPIUser, cfg.demo.apiSecret)
		} else {
			fmt.Fprintf(out, "demo account API credentials: user %s (secret from SWITCHBOARD_DEMO_API_SECRET)\n", demoAPIUser)
		}
	}

	srv := newHTTPServer(app.handler, cfg.http, logger)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		app.close()
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	app.close()
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// newHTTPServer is the http.Server the example serves with: every timeout
// set, so slow bodies and idle keep-alive connections cannot pile up. An
// embedder sets the same on its own http.Server.
func newHTTPServer(h http.Handler, l httpLimits, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.readHeader,
		ReadTimeout:       l.read,
		WriteTimeout:      l.write,
		IdleTimeout:       l.idle,
		MaxHeaderBytes:    l.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

//go:embed static
var static embed.FS

// app is everything the example composes, in memory.
type app struct {
	handler http.Handler
	close   func()
}

func newApp(cfg config, logger *slog.Logger) (*app, error) {
	key, err := signingKey(cfg.keyFile)
	if err != nil {
		return nil, err
	}
	keys, err := auth.NewKeySet(auth.KeySetConfig{Current: key})
	if err != nil {
		return nil, err
	}
	issuer, err := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	if err != nil {
		return nil, err
	}
	replay := auth.NewMemoryReplayCache(auth.MemoryReplayCacheConfig{})
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: replay})
	if err != nil {
		return nil, err
	}
	client, err := auth.NewClient(cfg.user, cfg.secret, "default")
	if err != nil {
		return nil, err
	}
	creds := auth.NewMemoryCredentialStore(client)
	if cfg.demo.on {
		demoClient, err := auth.NewClient(demoAPIUser, cfg.demo.apiSecret, demoAccount)
		if err != nil {
			return nil, fmt.Errorf("SWITCHBOARD_DEMO_API_SECRET: %w", err)
		}
		creds.Add(demoClient)
	}
	tokens, err := auth.NewTokenHandler(auth.TokenHandlerConfig{Issuer: issuer, Credentials: creds, Logger: logger})
	if err != nil {
		return nil, err
	}
	admin := auth.NewMiddleware(auth.MiddlewareConfig{Verifier: verifier, Credentials: creds, Require: []auth.Grant{auth.GrantAdmin}})
	tokensAPI, err := auth.NewTokensAPI(auth.TokensAPIConfig{Issuer: issuer, Replay: replay})
	if err != nil {
		return nil, err
	}

	mgr, err := rooms.NewManager(rooms.Config{Logger: logger})
	if err != nil {
		return nil, err
	}
	var hooks calling.Hooks
	closeHooks := func() {}
	if cfg.webhook != "" {
		whc := calling.WebhookConfig{URL: cfg.webhook, Secret: []byte(cfg.whSecret), Logger: logger}
		if cfg.data != "" { // undelivered events survive a restart
			box, err := calling.OpenFileOutbox(calling.FileOutboxConfig{Dir: filepath.Join(cfg.data, "webhooks"), Logger: logger})
			if err != nil {
				return nil, err
			}
			whc.Outbox, closeHooks = box, func() { _ = box.Close() }
		}
		wh, err := calling.NewWebhooks(whc)
		if err != nil {
			closeHooks()
			return nil, err
		}
		closeBox := closeHooks
		hooks, closeHooks = wh, func() { _ = wh.Close(); closeBox() }
	}
	var iceServers []protocol.ICEServer
	if len(cfg.stun) > 0 {
		iceServers = []protocol.ICEServer{{URLs: cfg.stun}}
	}
	rec, err := newRecordings(cfg, logger) // recording.go
	if err != nil {
		closeHooks()
		return nil, err
	}
	signal, err := calling.New(calling.Config{Rooms: mgr, Verifier: verifier, Hooks: hooks, ICEServers: iceServers, Recorder: rec,
		Media: calling.MediaConfig{ICEIPs: cfg.iceIPs, NAT1To1IPs: cfg.natIPs, UDPPort: cfg.udpPort}, Logger: logger})
	if err != nil {
		rec.close()
		closeHooks()
		return nil, err
	}
	rec.attach(signal)
	roomsAPI, err := rooms.NewHandler(rooms.HandlerConfig{Manager: mgr, Issuer: issuer, Broadcaster: signal})
	if err != nil {
		_ = signal.Close()
		rec.close()
		closeHooks()
		return nil, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	sweepDone := make(chan struct{})
	go func() { defer close(sweepDone); _ = mgr.Run(ctx) }()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.Handle("/oauth2/token", tokens)
	mux.Handle("/.well-known/jwks.json", keys.JWKSHandler())
	mux.Handle("/v1/signal", signal)
	// The REST API: each package's handler on the subtrees it owns, its
	// paths relative to /v1; any other /v1 path is a JSON 404.
	mountAPI(mux, admin(tokensAPI), "tokens")
	mountAPI(mux, admin(roomsAPI), "sessions", "participants")
	mountAPI(mux, admin(signal.CallsHandler()), "calls")
	mountAPI(mux, admin(rec.api), "recordings")
	mux.Handle("/v1/", admin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "route_not_found", "no such route")
	})))
	if cfg.demo.on {
		d := newDemo(cfg.demo, issuer, time.Now)
		mux.Handle("POST /demo/token", d.guard(http.HandlerFunc(d.tokens)))
		mux.Handle("/demo/recordings", d.guard(rec.demoHandler(cfg.demo.public)))
		mux.Handle("/demo/recordings/", d.guard(rec.demoHandler(cfg.demo.public)))
		sub, _ := fs.Sub(static, "static")
		mux.Handle("/", d.guard(http.FileServerFS(sub)))
	}
	return &app{handler: mux, close: func() {
		cancel()
		<-sweepDone
		_ = signal.Close()
		rec.close()
		closeHooks()
	}}, nil
}

// mountAPI serves h, a REST handler whose paths are relative to the API
// root, at /v1/<name> and below for each name.
func mountAPI(mux *http.ServeMux, h http.Handler, names ...string) {
	h = http.StripPrefix("/v1", h)
	for _, name := range names {
		mux.Handle("/v1/"+name, h)
		mux.Handle("/v1/"+name+"/", h)
	}
}

// The demo's tokens live in their own account, for identities that start
// with demoPrefix, so a demo visitor can never answer a call placed to, or
// join a room of, the API client's account.
const (
	demoAccount = "demo"
	demoPrefix  = "demo-"
	demoAPIUser = "demo-admin"
	// demoMaxAddrs bounds the addresses the rate limiter remembers; when
	// full of live windows, new addresses are refused until one ends.
	demoMaxAddrs = 4096
)

// demo serves the browser demo and its open token endpoint. It is safe for
// concurrent use.
type demo struct {
	cfg    demoConfig
	issuer *auth.Issuer
	limit  *addrLimiter
}

func newDemo(cfg demoConfig, issuer *auth.Issuer, now func() time.Time) *demo {
	return &demo{cfg: cfg, issuer: issuer, limit: newAddrLimiter(cfg.perMinute, time.Minute, demoMaxAddrs, now)}
}

// guard refuses clients that are not on loopback (403 demo_loopback_only)
// unless the demo was started with -demo-insecure-public. The address is the
// TCP peer's: a reverse proxy on the same machine makes every client look
// local, so never put one in front of the demo.
func (d *demo) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.cfg.public && !clientAddr(r).IsLoopback() {
			writeJSONError(w, http.StatusForbidden, "demo_loopback_only",
				"the demo serves loopback clients only; start the server with -demo-insecure-public to open it to everyone")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tokens mints a demo token: POST {"identity":"alice"} → 201
// {"token","identity":"demo-alice","expiresAt"}. The prefix is added when
// missing. 400 invalid_json or invalid_identity; 429 rate_limited with
// Retry-After past -demo-tokens-per-minute for the client's address.
func (d *demo) tokens(w http.ResponseWriter, r *http.Request) {
	if ok, wait := d.limit.allow(limitKey(clientAddr(r))); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		writeJSONError(w, http.StatusTooManyRequests, "rate_limited", "too many demo tokens from this address; retry later")
		return
	}
	var req struct {
		Identity string `json:"identity"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&req); err != nil {
		writeJSONError(w, http.StatusBadRequest, "invalid_json", `send {"identity":"..."}`)
		return
	}
	identity := req.Identity
	if !strings.HasPrefix(identity, demoPrefix) {
		identity = demoPrefix + identity
	}
	tok, c, err := d.issuer.Mint(r.Context(), auth.TokenRequest{
		Identity: identity, DisplayName: identity, Account: demoAccount, TTL: d.cfg.ttl,
		Grants: auth.Grants{Rooms: []string{"*"}, Publish: []auth.Media{auth.MediaAudio, auth.MediaVideo}, Data: true, Outgoing: true, Incoming: true},
	})
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "invalid_identity", "identity must be 3-59 letters, digits or - _ + = / . (demo- is added)")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "identity": identity, "expiresAt": c.Expiry})
}

// clientAddr is the TCP peer's address (never a forwarded header); the zero
// Addr when it cannot be parsed.
func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// limitKey groups IPv6 clients by /64, the block one subscriber usually
// holds, so that rotating addresses in it does not multiply the limit.
func limitKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// addrLimiter allows each key n events per fixed window. It remembers at
// most max keys; windows that ended are swept when it is full. It is safe
// for concurrent use.
type addrLimiter struct {
	mu     sync.Mutex
	n, max int
	window time.Duration
	now    func() time.Time
	seen   map[string]*addrWindow
}

type addrWindow struct {
	start time.Time
	count int
}

func newAddrLimiter(n int, window time.Duration, max int, now func() time.Time) *addrLimiter {
	return &addrLimiter{n: n, max: max, window: window, now: now, seen: map[string]*addrWindow{}}
}

// allow counts one event for key and reports whether it is within the
// limit, or else how long until the key's window ends.
func (l *addrLimiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.seen[key]
	if w != nil && now.Sub(w.start) >= l.window {
		w.start, w.count = now, 0
	}
	if w == nil {
		if len(l.seen) >= l.max {
			for k, o := range l.seen {
				if now.Sub(o.start) >= l.window {
					delete(l.seen, k)
				}
			}
			if len(l.seen) >= l.max {
				return false, l.window
			}
		}
		w = &addrWindow{start: now}
		l.seen[key] = w
	}
	if w.count >= l.n {
		return false, w.start.Add(l.window).Sub(now)
	}
	w.count++
	return true, 0
}

func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": message})
}

// signingKey loads the PEM key file, or generates a key when none is given.
func signingKey(file string) (*auth.Key, error) {
	if file == "" {
		return auth.GenerateKey(auth.ES256)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return auth.ParsePrivateKeyPEM(b)
}
