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
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
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
	stun     []string
	keyFile  string
	udpPort  int
	demo     bool
	webhook  string
	whSecret string
	user     string
	secret   string
}

func parseFlags(args []string, getenv func(string) string) (config, error) {
	var c config
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&c.data, "data", "", "folder for state that must survive a restart: the webhook outbox (<data>/webhooks)")
	fs.Func("ice-ip", "restrict ICE candidates to this address (repeatable), e.g. 127.0.0.1; unset = all interfaces", func(s string) error {
		if net.ParseIP(s) == nil {
			return fmt.Errorf("not an IP address: %q", s)
		}
		c.iceIPs = append(c.iceIPs, s)
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
	fs.BoolVar(&c.demo, "demo", true, "serve the browser demo at / and hand out demo tokens at /demo/token (turn off anywhere real)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
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
		cfg.user = "demo"
		if cfg.secret, err = auth.NewSecret(); err != nil {
			return err
		}
		generated = true
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
	fmt.Fprintf(out, "demo: %s/\n", base)

	srv := &http.Server{Handler: app.handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
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
	keys := auth.NewKeySet(key)
	issuer, err := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	if err != nil {
		return nil, err
	}
	replay := auth.NewMemoryReplayCache(0, nil)
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: replay})
	if err != nil {
		return nil, err
	}
	client, err := auth.NewClient(cfg.user, cfg.secret, "default")
	if err != nil {
		return nil, err
	}
	creds := auth.NewMemoryCredentialStore(client)
	tokens, err := auth.NewTokenHandler(auth.TokenHandlerConfig{Issuer: issuer, Credentials: creds, Logger: logger})
	if err != nil {
		return nil, err
	}
	admin := auth.NewMiddleware(auth.MiddlewareConfig{Verifier: verifier, Credentials: creds, Require: []auth.Grant{auth.GrantAdmin}})

	mgr, err := rooms.NewManager(rooms.Config{Logger: logger})
	if err != nil {
		return nil, err
	}
	restAPI, err := rooms.NewHandler(rooms.HandlerConfig{Manager: mgr, Issuer: issuer})
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
	var iceServers []calling.ICEServer
	if len(cfg.stun) > 0 {
		iceServers = []calling.ICEServer{{URLs: cfg.stun}}
	}
	signal, err := calling.New(calling.Config{Rooms: mgr, Verifier: verifier, Hooks: hooks, ICEServers: iceServers,
		Media: calling.MediaConfig{ICEIPs: cfg.iceIPs, UDPPort: cfg.udpPort}, Logger: logger})
	if err != nil {
		return nil, err
	}
	signal.RegisterREST(restAPI)

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
	mux.Handle("/v1/tokens", admin(auth.TokensHandler(issuer)))
	mux.Handle("DELETE /v1/tokens/{id}", admin(auth.RevokeHandler(replay, issuer.MaxTTL(), nil)))
	mux.Handle("/v1/signal", signal)
	mux.Handle("/v1/", admin(restAPI))
	if cfg.demo {
		mux.Handle("POST /demo/token", demoTokens(issuer))
		sub, _ := fs.Sub(static, "static")
		mux.Handle("/", http.FileServerFS(sub))
	}
	return &app{handler: mux, close: func() {
		cancel()
		<-sweepDone
		_ = signal.Close()
		closeHooks()
	}}, nil
}

// demoTokens hands any visitor a short-lived user token for the demo page:
// any room, audio and video, data. Turn it off (-demo=false) anywhere real.
func demoTokens(iss *auth.Issuer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		var req struct {
			Identity string `json:"identity"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"code":"invalid_json","message":"send {\"identity\":\"...\"}"}`))
			return
		}
		tok, c, err := iss.Mint(r.Context(), auth.TokenRequest{
			Identity: req.Identity, DisplayName: req.Identity, Account: "default",
			Grants: auth.Grants{Rooms: []string{"*"}, Publish: []auth.Media{auth.MediaAudio, auth.MediaVideo}, Data: true, Outgoing: true, Incoming: true},
		})
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"code":"invalid_identity","message":"identity must be 3-64 letters, digits or - _ + = / ."}`))
			return
		}
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "expiresAt": c.Expiry})
	})
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
