package main

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"os"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
	"github.com/switchboard-rtc/switchboard/rooms"
)

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
	if cfg.webhook != "" {
		if hooks, err = calling.NewWebhooks(calling.WebhookConfig{URL: cfg.webhook, Secret: []byte(cfg.whSecret), Logger: logger}); err != nil {
			return nil, err
		}
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
	}}, nil
}

// demoTokens hands any visitor a short-lived user token for the demo page:
// any room, audio and video, data. Turn it off (-demo=false) anywhere real.
func demoTokens(iss *auth.Issuer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Identity string `json:"identity" validate:"required"`
		}
		if err := httpx.DecodeJSON(w, r, 1024, &req); err != nil {
			httpx.WriteError(w, err)
			return
		}
		tok, c, err := iss.Mint(r.Context(), auth.TokenRequest{
			Identity: req.Identity, DisplayName: req.Identity, Account: "default",
			Grants: auth.Grants{Rooms: []string{"*"}, Publish: []auth.Media{auth.MediaAudio, auth.MediaVideo}, Data: true, Outgoing: true, Incoming: true},
		})
		if err != nil {
			status, code := auth.HTTPStatus(err)
			httpx.WriteError(w, httpx.Errorf(status, code, "identity must be 3-64 letters, digits or - _ + = / ."))
			return
		}
		httpx.WriteJSON(w, http.StatusCreated, map[string]any{"token": tok, "expiresAt": c.Expiry})
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
