package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/adapters/redis"
	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
	"github.com/switchboard-rtc/switchboard/internal/redistest"
	"github.com/switchboard-rtc/switchboard/push"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// privateRedis is a redis-server of the test's own, on a spare loopback
// port, that the test stops and starts (internal/redistest).
type privateRedis struct{ *redistest.Server }

func startPrivateRedis(t *testing.T) *privateRedis { return &privateRedis{redistest.Start(t)} }
func (s *privateRedis) addr() string               { return s.Addr() }
func (s *privateRedis) start()                     { s.Restart() }
func (s *privateRedis) stop()                      { s.Stop() }

// A bound on how long any method may take with Redis away: the dial and
// read timeouts (500 ms) with one retry, and slack for a loaded machine.
const failFast = 3 * time.Second

// Redis stopped mid-run: every method (of the seams, and of the
// rooms.Manager that signaling uses) fails fast with ErrUnavailable, which
// every package maps to 503 store_unavailable, and the REST APIs answer
// 503 store_unavailable; Redis hung: the same, by the
// read timeout; Redis back: the same Client works again without being
// rebuilt, and a subscription that lost its connection ends so that its
// consumer resubscribes.
func TestRedisUnavailable(t *testing.T) {
	srv := startPrivateRedis(t)
	ctx := context.Background()
	c := newClient(t, redis.Config{Addr: srv.addr(), Prefix: "fault:"})
	store, bus := c.Store(), c.Bus(redis.BusConfig{})
	replay := c.ReplayCache(redis.ReplayCacheConfig{})
	presence := c.Presence(redis.PresenceConfig{})
	registry := c.Registry(redis.RegistryConfig{})
	nodes, err := c.Nodes(redis.NodesConfig{ID: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	api := newAPIs(t, store, bus, replay, registry)

	// Up: everything works.
	if status, _ := api.do("POST", "/v1/sessions", api.admin, `{}`); status != http.StatusCreated {
		t.Fatalf("creating a session with Redis up: %d", status)
	}
	subCtx, cancelSub := context.WithCancel(ctx)
	defer cancelSub()
	sub := bus.Subscribe(subCtx, 16)
	if err := nodes.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}

	// The rooms.Manager that signaling joins and leaves through.
	mgr, err := rooms.NewManager(rooms.Config{Store: store, Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	p0, err := mgr.CreateParticipant(ctx, "acct", rooms.ParticipantSpec{Identity: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	hall := rooms.RoomSessionID("hall")
	if _, err := mgr.JoinRoom(ctx, "acct", "hall", p0.ID); err != nil {
		t.Fatal(err)
	}

	calls := []struct {
		name string
		call func(context.Context) error
	}{
		{"Manager.CreateParticipant", func(ctx context.Context) error {
			_, err := mgr.CreateParticipant(ctx, "acct", rooms.ParticipantSpec{Identity: "bob"})
			return err
		}},
		{"Manager.Participant", func(ctx context.Context) error { _, err := mgr.Participant(ctx, "acct", p0.ID); return err }},
		{"Manager.JoinRoom", func(ctx context.Context) error { _, err := mgr.JoinRoom(ctx, "acct", "hall", p0.ID); return err }},
		{"Manager.Receives", func(ctx context.Context) error { _, err := mgr.Receives(ctx, "acct", hall, p0.ID); return err }},
		{"Manager.SetStreams", func(ctx context.Context) error { return mgr.SetStreams(ctx, "acct", p0.ID, nil) }},
		{"Manager.RemoveParticipant", func(ctx context.Context) error { return mgr.RemoveParticipant(ctx, "acct", hall, p0.ID) }},
		{"Manager.DeleteParticipant", func(ctx context.Context) error { return mgr.DeleteParticipant(ctx, "acct", p0.ID) }},
		{"Manager.CreateSession", func(ctx context.Context) error { _, err := mgr.CreateSession(ctx, "acct", "call"); return err }},
		{"Manager.Touch", func(ctx context.Context) error { return mgr.Touch(ctx, "acct", hall) }},
		{"Ping", c.Ping},
		{"Sessions.Create", func(ctx context.Context) error {
			return store.Sessions().Create(ctx, &rooms.Session{ID: "s-x", Account: "acct"})
		}},
		{"Sessions.Get", func(ctx context.Context) error { _, err := store.Sessions().Get(ctx, "acct", "s-x"); return err }},
		{"Sessions.Update", func(ctx context.Context) error {
			_, err := store.Sessions().Update(ctx, "acct", "s-x", func(*rooms.Session) error { return nil })
			return err
		}},
		{"Sessions.Delete", func(ctx context.Context) error { return store.Sessions().Delete(ctx, "acct", "s-x") }},
		{"Sessions.List", func(ctx context.Context) error { _, err := store.Sessions().List(ctx, ""); return err }},
		{"UpdateMembership", func(ctx context.Context) error {
			return store.UpdateMembership(ctx, "acct", "s-x", "p-x", func(*rooms.Session, *rooms.Participant) error { return nil })
		}},
		{"Bus.Publish", func(ctx context.Context) error { return bus.Publish(ctx, rooms.Event{Type: rooms.SessionCreated}) }},
		{"ReplayCache.Revoke", func(ctx context.Context) error {
			return replay.Revoke(ctx, "k", time.Now().Add(time.Hour))
		}},
		{"ReplayCache.Revoked", func(ctx context.Context) error { _, err := replay.Revoked(ctx, "k"); return err }},
		{"ReplayCache.Use", func(ctx context.Context) error { _, err := replay.Use(ctx, "j", time.Now().Add(time.Hour)); return err }},
		{"Presence.Claim", func(ctx context.Context) error { _, err := presence.Claim(ctx, "acct", "alice", "c-1"); return err }},
		{"Presence.Holder", func(ctx context.Context) error { _, err := presence.Holder(ctx, "acct", "alice"); return err }},
		{"Presence.Release", func(ctx context.Context) error { return presence.Release(ctx, "acct", "alice", "c-1") }},
		{"Registry.Register", func(ctx context.Context) error {
			_, err := registry.Register(ctx, push.Device{Account: "acct", Identity: "alice", Platform: push.FCM, Token: "t"})
			return err
		}},
		{"Registry.Devices", func(ctx context.Context) error { _, err := registry.Devices(ctx, "acct", "alice"); return err }},
		{"Registry.Remove", func(ctx context.Context) error { return registry.Remove(ctx, "acct", "alice", "d-x") }},
		{"Nodes.Heartbeat", nodes.Heartbeat},
		{"Nodes.Place", func(ctx context.Context) error { _, err := nodes.Place(ctx, "acct", "room"); return err }},
		{"Nodes.Holder", func(ctx context.Context) error { _, _, err := nodes.Holder(ctx, "acct", "room"); return err }},
		{"Nodes.Live", func(ctx context.Context) error { _, err := nodes.Live(ctx); return err }},
		{"Nodes.Release", func(ctx context.Context) error { return nodes.Release(ctx, "acct", "room") }},
	}
	allUnavailable := func(how string) {
		t.Helper()
		// All at once, as a busy node would call them.
		took := make([]time.Duration, len(calls))
		var wg sync.WaitGroup
		for i, tc := range calls {
			wg.Go(func() {
				start := time.Now()
				err := tc.call(ctx)
				took[i] = time.Since(start)
				if !errors.Is(err, redis.ErrUnavailable) {
					t.Errorf("%s with Redis %s: %v, want ErrUnavailable", tc.name, how, err)
				}
				// Every package maps it to 503 store_unavailable: the REST
				// APIs, and signaling (error 503 store_unavailable).
				if !httpx.Unavailable(err) {
					t.Errorf("%s with Redis %s: httpx.Unavailable is false for %v", tc.name, how, err)
				}
				for pkg, mapping := range map[string]func(error) (int, string, string){
					"rooms": rooms.HTTPStatus, "calling": calling.HTTPStatus, "auth": auth.HTTPStatus, "push": push.HTTPStatus} {
					if status, code, _ := mapping(err); status != http.StatusServiceUnavailable || code != "store_unavailable" {
						t.Errorf("%s with Redis %s: %s.HTTPStatus gives %d %s, want 503 store_unavailable", tc.name, how, pkg, status, code)
					}
				}
				if took[i] > failFast {
					t.Errorf("%s with Redis %s took %s, more than %s", tc.name, how, took[i], failFast)
				}
			})
		}
		wg.Wait()
		t.Logf("Redis %s: %d methods failed with ErrUnavailable, the slowest in %s", how, len(calls), slices.Max(took))
		for _, r := range []struct{ method, path, body string }{
			{"POST", "/v1/sessions", `{}`},
			{"GET", "/v1/sessions/s-x", ""},
			{"POST", "/v1/participants", `{}`},
		} {
			start := time.Now()
			status, body := api.do(r.method, r.path, api.admin, r.body)
			if status != http.StatusServiceUnavailable || !strings.Contains(body, `"store_unavailable"`) {
				t.Errorf("%s %s with Redis %s: %d %s, want 503 store_unavailable", r.method, r.path, how, status, body)
			}
			if took := time.Since(start); took > failFast {
				t.Errorf("%s %s took %s", r.method, r.path, took)
			}
		}
		// A user's token is checked against the replay cache, and their
		// devices live in the registry: both are 503 too.
		for _, path := range []string{"/v1/devices"} {
			status, body := api.do("GET", path, api.userToken, "")
			if status != http.StatusServiceUnavailable || !strings.Contains(body, `"store_unavailable"`) {
				t.Errorf("GET %s with Redis %s: %d %s, want 503 store_unavailable", path, how, status, body)
			}
		}
	}

	// Stopped: refused connections.
	srv.stop()
	allUnavailable("stopped")
	select {
	case _, open := <-sub.C:
		if !open {
			t.Fatalf("the subscription ended while Redis was away (%v): a consumer would resubscribe in a loop", sub.Err())
		}
	default:
	}

	// Back: the same client recovers by itself.
	srv.start()
	waitFor(t, "the client to reach Redis again", func() bool { return c.Ping(ctx) == nil })
	if status, body := api.do("POST", "/v1/sessions", api.admin, `{}`); status != http.StatusCreated {
		t.Fatalf("creating a session after Redis came back: %d %s", status, body)
	}
	if status, body := api.do("GET", "/v1/devices", api.userToken, ""); status != http.StatusOK {
		t.Fatalf("listing devices after Redis came back: %d %s", status, body)
	}
	for _, tc := range calls {
		if err := tc.call(ctx); errors.Is(err, redis.ErrUnavailable) {
			t.Errorf("%s after Redis came back: %v", tc.name, err)
		}
	}
	joinAndLeave(t, mgr, "after Redis came back")
	// The subscription that lost its connection ends, asking for a resync;
	// a new one gets events again.
	deadline := time.After(10 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-sub.C:
		case <-deadline:
			t.Fatal("the subscription that lost its connection did not end after Redis came back")
		}
	}
	if !errors.Is(sub.Err(), redis.ErrUnavailable) {
		t.Fatalf("the subscription ended with %v, want ErrUnavailable", sub.Err())
	}
	again := bus.Subscribe(subCtx, 4)
	if err := bus.Publish(ctx, rooms.Event{Type: rooms.SessionCreated, SessionID: "s-again"}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-again.C:
		if e.SessionID != "s-again" {
			t.Fatalf("event %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a new subscription got nothing after Redis came back")
	}

	// Hung (SIGSTOP): no refusal, just silence; the read timeout answers.
	if err := srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	allUnavailable("hung")
	if err := srv.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the client to reach Redis after it resumed", func() bool { return c.Ping(ctx) == nil })
	joinAndLeave(t, mgr, "after Redis resumed")
}

// joinAndLeave is what a signaling connection does in a room, on the
// Manager that lived through the outage: every step must work.
func joinAndLeave(t *testing.T, mgr *rooms.Manager, when string) {
	t.Helper()
	ctx := context.Background()
	p, err := mgr.CreateParticipant(ctx, "acct", rooms.ParticipantSpec{Identity: "carol"})
	if err != nil {
		t.Fatalf("CreateParticipant %s: %v", when, err)
	}
	s, err := mgr.JoinRoom(ctx, "acct", "lobby", p.ID)
	if err != nil || s.Members[p.ID] == nil {
		t.Fatalf("JoinRoom %s: %+v, %v", when, s, err)
	}
	if _, err := mgr.Receives(ctx, "acct", s.ID, p.ID); err != nil {
		t.Fatalf("Receives %s: %v", when, err)
	}
	if err := mgr.DeleteParticipant(ctx, "acct", p.ID); err != nil {
		t.Fatalf("DeleteParticipant %s: %v", when, err)
	}
	if s, err := mgr.Session(ctx, "acct", s.ID); err != nil || len(s.Members) != 0 {
		t.Fatalf("the room %s after its only participant left: %+v, %v", when, s, err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// apis is the REST side as a host mounts it, on the Redis seams.
type apis struct {
	t                *testing.T
	h                http.Handler
	admin, userToken string
}

func newAPIs(t *testing.T, store rooms.Store, bus rooms.Bus, replay auth.ReplayCache, registry push.Registry) *apis {
	t.Helper()
	key, err := auth.GenerateKey(auth.ES256)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewKeySet(auth.KeySetConfig{Current: key})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	ver, err := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: replay})
	if err != nil {
		t.Fatal(err)
	}
	m, err := rooms.NewManager(rooms.Config{Store: store, Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	rh, err := rooms.NewHandler(rooms.HandlerConfig{Manager: m, Issuer: iss})
	if err != nil {
		t.Fatal(err)
	}
	ph, err := push.NewHandler(push.HandlerConfig{Registry: registry})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/sessions", http.StripPrefix("/v1", rh))
	mux.Handle("/v1/sessions/", http.StripPrefix("/v1", rh))
	mux.Handle("/v1/participants", http.StripPrefix("/v1", rh))
	mux.Handle("/v1/devices", http.StripPrefix("/v1", ph))
	authn := auth.NewMiddleware(auth.MiddlewareConfig{Verifier: ver})
	mint := func(g auth.Grants, identity string) string {
		tok, _, err := iss.Mint(context.Background(), auth.TokenRequest{Identity: identity, Account: "acct", Grants: g})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	return &apis{t: t, h: authn(mux), admin: mint(auth.Grants{Admin: true}, "admin-1"), userToken: mint(auth.Grants{Incoming: true}, "alice")}
}

func (a *apis) do(method, path, token, body string) (int, string) {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	var e struct{ Code string }
	_ = json.Unmarshal(w.Body.Bytes(), &e)
	return w.Code, w.Body.String()
}
