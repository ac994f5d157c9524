package calling_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/rooms"
)

const acct = "acct-1"

type env struct {
	t       testing.TB
	issuer  *auth.Issuer
	replay  *auth.MemoryReplayCache
	rooms   *rooms.Manager
	srv     *calling.Server
	http    *httptest.Server
	wsURL   string
	api     *webrtc.API
	clients []*client.Client
	closed  sync.Once
}

func newEnvB(b *testing.B) *env { return newEnv(b, nil) }

func newEnv(t testing.TB, mod func(*calling.Config)) *env {
	t.Helper()
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	replay := auth.NewMemoryReplayCache(auth.MemoryReplayCacheConfig{})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: replay})
	mgr, _ := rooms.NewManager(rooms.Config{})
	cfg := calling.Config{Rooms: mgr, Verifier: ver, Media: calling.MediaConfig{ICEIPs: []string{"127.0.0.1"}}}
	if mod != nil {
		mod(&cfg)
	}
	if cfg.Clock != nil && cfg.Verifier == ver {
		// Tokens are minted and checked on the test's clock too.
		iss, _ = auth.NewIssuer(auth.IssuerConfig{Keys: keys, Clock: cfg.Clock})
		cfg.Verifier, _ = auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: replay, Clock: cfg.Clock})
	}
	srv, err := calling.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/signal", srv)
	hs := httptest.NewServer(mux)
	api, err := client.NewAPI("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, issuer: iss, replay: replay, rooms: cfg.Rooms, srv: srv, http: hs, api: api,
		wsURL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/signal"}
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	e.closed.Do(func() {
		for _, c := range e.clients {
			_ = c.Close()
		}
		e.http.Close()
		if err := e.srv.Close(); err != nil {
			e.t.Errorf("server close: %v", err)
		}
	})
}

func (e *env) token(identity string, g auth.Grants) string {
	e.t.Helper()
	tok, _, err := e.issuer.Mint(context.Background(), auth.TokenRequest{Identity: identity, Account: acct, Grants: g})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

var roomGrants = auth.Grants{Rooms: []string{"*"}, Publish: []auth.Media{auth.MediaAudio, auth.MediaVideo}, Data: true}

func (e *env) dial(identity string) *client.Client {
	e.t.Helper()
	return e.dialToken(e.token(identity, roomGrants))
}

func (e *env) dialToken(tok string) *client.Client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{URL: e.wsURL, Token: tok, API: e.api})
	if err != nil {
		e.t.Fatal(err)
	}
	e.clients = append(e.clients, c)
	return c
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
