package main

import (
	"log/slog"
	"net/http"

	"context"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// app is everything the example composes, in memory.
type app struct {
	handler http.Handler
	close   func()
}

func newApp(cfg config, logger *slog.Logger) (*app, error) {
	key, err := auth.GenerateKey(auth.ES256)
	if err != nil {
		return nil, err
	}
	keys := auth.NewKeySet(key)
	issuer, err := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	if err != nil {
		return nil, err
	}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: auth.NewMemoryReplayCache(0, nil)})
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
	mux.Handle("/v1/", admin(restAPI))
	return &app{handler: mux, close: func() { cancel(); <-sweepDone }}, nil
}
