package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// README.md's "In your own server" is the code between the two markers
// below, byte for byte (TestREADMESnippet), so the snippet a user pastes
// compiles and runs.

// README snippet begins
// serve runs Switchboard on addr (e.g. "127.0.0.1:8080") until ctx ends.
// API_SECRET, at least 16 bytes, is the secret of the API client "my-backend".
func serve(ctx context.Context, addr string) error {
	key, err := auth.GenerateKey(auth.ES256) // or auth.ParsePrivateKeyPEM: the same key on every node
	if err != nil {
		return err
	}
	keys, err := auth.NewKeySet(auth.KeySetConfig{Current: key})
	if err != nil {
		return err
	}
	issuer, err := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	if err != nil {
		return err
	}
	replay := auth.NewMemoryReplayCache(auth.MemoryReplayCacheConfig{}) // revoked and single-use token ids
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: replay})
	if err != nil {
		return err
	}
	client, err := auth.NewClient("my-backend", os.Getenv("API_SECRET"), "my-account")
	if err != nil {
		return fmt.Errorf("API_SECRET: %w", err)
	}
	creds := auth.NewMemoryCredentialStore(client)
	tokens, err := auth.NewTokenHandler(auth.TokenHandlerConfig{Issuer: issuer, Credentials: creds})
	if err != nil {
		return err
	}
	admin := auth.NewMiddleware(auth.MiddlewareConfig{
		Verifier: verifier, Credentials: creds, Require: []auth.Grant{auth.GrantAdmin},
	})
	tokensAPI, err := auth.NewTokensAPI(auth.TokensAPIConfig{Issuer: issuer, Replay: replay})
	if err != nil {
		return err
	}
	mgr, err := rooms.NewManager(rooms.Config{})
	if err != nil {
		return err
	}
	sfu, err := calling.New(calling.Config{Rooms: mgr, Verifier: verifier})
	if err != nil {
		return err
	}
	defer sfu.Close() // ends calls and signaling connections, after the server stops
	roomsAPI, err := rooms.NewHandler(rooms.HandlerConfig{Manager: mgr, Issuer: issuer, Broadcaster: sfu})
	if err != nil {
		return err
	}

	mux := http.NewServeMux() // your mux, next to your own routes
	mux.Handle("/oauth2/token", tokens)
	mux.Handle("/.well-known/jwks.json", keys.JWKSHandler())
	mux.Handle("/v1/signal", sfu) // WebSocket signaling + media
	// The REST API: each handler's paths are relative to /v1, so it is
	// mounted, /v1 stripped, on the subtrees it owns.
	for path, api := range map[string]http.Handler{
		"/v1/tokens": tokensAPI, "/v1/sessions": roomsAPI, "/v1/participants": roomsAPI, "/v1/calls": sfu.CallsHandler(),
	} {
		mux.Handle(path, admin(http.StripPrefix("/v1", api)))
		mux.Handle(path+"/", admin(http.StripPrefix("/v1", api)))
	}

	srv := &http.Server{
		Addr:              addr,
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second, // whole request; a signaling WebSocket is exempt once upgraded
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sweep := make(chan error, 1)
	go func() { sweep <- mgr.Run(ctx) }() // expires idle participants and empty rooms
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	select {
	case err = <-served: // could not listen
	case <-ctx.Done():
		stopCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		err = srv.Shutdown(stopCtx)
		if e := <-served; !errors.Is(e, http.ErrServerClosed) && err == nil {
			err = e
		}
	}
	cancel()
	<-sweep
	return err
}

// README snippet ends

// Example_ownServer is how a host's main calls serve.
func Example_ownServer() {
	ctx, stop := context.WithCancel(context.Background()) // signal.NotifyContext(..., os.Interrupt) in a real main
	defer stop()
	if err := serve(ctx, "127.0.0.1:8080"); err != nil {
		log.Fatal(err)
	}
}

// README's snippet is the code above, unchanged.
func TestREADMESnippet(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("ownserver_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, code, ok := strings.Cut(string(src), "// README snippet begins\n")
	code, _, ok2 := strings.Cut(code, "\n// README snippet ends")
	if !ok || !ok2 {
		t.Fatal("markers missing")
	}
	if !strings.Contains(string(readme), "```go\n"+code+"```\n") {
		t.Fatalf("README.md's \"In your own server\" differs from serve in examples/embed/ownserver_test.go; paste it:\n```go\n%s```", code)
	}
}

// serve refuses a missing or short API_SECRET with an error (no panic),
// reports an address it cannot listen on, and stops cleanly with ctx.
func TestOwnServer(t *testing.T) {
	for _, secret := range []string{"", "short"} {
		t.Setenv("API_SECRET", secret)
		if err := serve(context.Background(), "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "API_SECRET") {
			t.Fatalf("API_SECRET %q: %v", secret, err)
		}
	}
	t.Setenv("API_SECRET", "a-secret-of-at-least-16-bytes")
	if err := serve(context.Background(), "127.0.0.1:-1"); err == nil {
		t.Fatal("a bad address was accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := serve(ctx, "127.0.0.1:0"); err != nil {
		t.Fatalf("stop: %v", err)
	}
}
