// Command server is Switchboard's one-command backend: every package composed
// in memory behind one net/http server. See README.md beside this file.
package main

import (
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
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
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	if cfg.cluster.nodeURL == "" {
		cfg.cluster.nodeURL = base + "/v1/signal"
	}
	app, err := newApp(cfg, logger)
	if err != nil {
		_ = ln.Close()
		return err
	}
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
	fmt.Fprintf(out, "push wake-ups: %s\n", cfg.push)
	fmt.Fprintf(out, "state: %s\n", app.sharing)
	stopMetrics, err := serveMetrics(cfg.ops, app.metrics, cfg.http, out, logger)
	if err != nil {
		_ = ln.Close()
		app.close()
		return err
	}
	defer stopMetrics()

	srv := newHTTPServer(app.handler, cfg.http, logger)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		app.close()
		return err
	case <-ctx.Done():
	}
	app.drain(cfg.drain.timeout, cfg.drain.reconnectURL, logger) // drain.go
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
	metrics http.Handler // for -metrics-addr (metrics.go)
	close   func()
	signal  *calling.Server
	ready   *readiness // GET /readyz (drain.go)
	// leavePlacement takes the node out of room placement (a cluster's
	// Nodes.Drain; nil for one node).
	leavePlacement func(context.Context) error
	sharing        string // how the node shares its state (one node, or a cluster on Redis)
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
	sh, err := newShared(cfg.cluster, cfg.cluster.nodeURL, logger) // cluster.go
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			sh.stop()
		}
	}()
	replay := sh.replay
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

	mgr, err := rooms.NewManager(rooms.Config{Store: sh.store, Bus: sh.bus, MaxParticipantsPerSession: cfg.maxParticipants, Logger: logger})
	if err != nil {
		return nil, err
	}
	var hooks calling.Hooks
	var webhooks *calling.Webhooks
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
		hooks, webhooks, closeHooks = wh, wh, func() { _ = wh.Close(); closeBox() }
	}
	var iceServers []protocol.ICEServer
	if len(cfg.stun) > 0 {
		iceServers = []protocol.ICEServer{{URLs: cfg.stun}}
	}
	quality, setQualityServer, err := newQuality(logger)
	if err != nil {
		closeHooks()
		return nil, err
	}
	rec, err := newRecordings(cfg, logger) // recording.go
	if err != nil {
		closeHooks()
		return nil, err
	}
	pushes, err := newPushing(cfg.push, sh.registry, logger, webhooks)
	if err != nil {
		rec.close()
		closeHooks()
		return nil, err
	}
	signal, err := calling.New(calling.Config{Rooms: mgr, Verifier: verifier, Hooks: hooks, ICEServers: iceServers,
		Quality: quality, Recorder: rec, Waker: pushes.waker, RingTimeout: cfg.ringTimeout, Logger: logger,
		Presence: sh.presence, Cluster: sh.cluster, ClusterSecret: sh.clusterSecret(cfg.cluster),
		Limits: calling.Limits{JoinRate: cfg.joinRate, JoinBurst: int(2 * cfg.joinRate), PeerConnections: cfg.peerConns},
		Media:  calling.MediaConfig{ICEIPs: cfg.iceIPs, NAT1To1IPs: cfg.natIPs, UDPPort: cfg.udpPort, SendBatch: cfg.sendBatch}})
	if err != nil {
		pushes.close()
		rec.close()
		closeHooks()
		return nil, err
	}
	setQualityServer(signal)
	rec.attach(signal)
	roomsAPI, err := rooms.NewHandler(rooms.HandlerConfig{Manager: mgr, Issuer: issuer, Broadcaster: signal, Quality: signal})
	var operator *ops // /metrics and /debug/pprof/ (metrics.go)
	if err == nil {
		operator, err = newOps(cfg.ops, metricsSources(signal, webhooks, tokens, pushes, rec, quality))
	}
	if err != nil {
		_ = signal.Close()
		pushes.close()
		rec.close()
		closeHooks()
		return nil, err
	}
	// The devices API takes a user's own token, not API credentials.
	user := auth.NewMiddleware(auth.MiddlewareConfig{Verifier: verifier})

	ctx, cancel := context.WithCancel(context.Background())
	sweepDone := make(chan struct{})
	go func() { defer close(sweepDone); _ = mgr.Run(ctx) }()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	// Readiness checks of shared dependencies (drain.go): the shared state
	// (Redis in a cluster; always reachable in memory).
	ready := &readiness{draining: signal.Draining, timeout: cmp.Or(cfg.drain.readyTimeout, 2*time.Second), log: logger,
		checks: []readinessCheck{{"store", sh.ready}}}
	mux.Handle("GET /readyz", ready)
	mux.Handle("/oauth2/token", tokens)
	mux.Handle("/.well-known/jwks.json", keys.JWKSHandler())
	mux.Handle("/v1/signal", signal)
	// The REST API: each package's handler on the subtrees it owns, its
	// paths relative to /v1; any other /v1 path is a JSON 404.
	mountAPI(mux, admin(tokensAPI), "tokens")
	mountAPI(mux, admin(roomsAPI), "sessions", "participants")
	mountAPI(mux, admin(signal.CallsHandler()), "calls")
	mountAPI(mux, user(pushes.devices), "devices")
	// In a cluster each node keeps what it recorded; the API gathers them
	// (cluster_recordings.go).
	recAPI := newClusterRecordings(http.StripPrefix("/v1", admin(rec.api)), sh.nodes, logger)
	mux.Handle("/v1/recordings", recAPI)
	mux.Handle("/v1/recordings/", recAPI)
	operator.mount(mux, admin)
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
	ok = true
	return &app{handler: mux, sharing: sh.describe(cfg.cluster), metrics: operator.metrics, signal: signal, ready: ready, leavePlacement: sh.leavePlacement(), close: func() {
		cancel()
		<-sweepDone
		_ = signal.Close() // ends the wake-ups in flight first
		pushes.close()
		rec.close()
		closeHooks()
		sh.stop()
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
