package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-rtc/switchboard/adapters/redis"
	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// signalNode is a calling.Server on the Redis seams, as a node of a
// cluster runs it, with Go participants on loopback.
type signalNode struct {
	t     *testing.T
	srv   *calling.Server
	mgr   *rooms.Manager
	store *redis.Store
	iss   *auth.Issuer
	url   string
	dial  func(token string) *client.Client
}

func newSignalNode(t *testing.T, c *redis.Client) *signalNode {
	t.Helper()
	key, err := auth.GenerateKey(auth.ES256)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: c.ReplayCache(redis.ReplayCacheConfig{})})
	store := c.Store()
	mgr, err := rooms.NewManager(rooms.Config{Store: store, Bus: c.Bus(redis.BusConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := calling.New(calling.Config{Rooms: mgr, Verifier: ver, Presence: c.Presence(redis.PresenceConfig{}),
		Media:              calling.MediaConfig{ICEIPs: []string{"127.0.0.1"}},
		StoreRetryInterval: 50 * time.Millisecond,
		Limits:             calling.Limits{ConnJoinRate: -1, ConnCallRate: -1}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	api, err := client.NewAPI("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	n := &signalNode{t: t, srv: srv, mgr: mgr, store: store, iss: iss, url: "ws" + strings.TrimPrefix(hs.URL, "http")}
	var open []*client.Client
	n.dial = func(token string) *client.Client {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cl, err := client.Dial(ctx, client.Config{URL: n.url, Token: token, API: api})
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, cl)
		return cl
	}
	t.Cleanup(func() {
		for _, cl := range open {
			_ = cl.Close()
		}
		hs.Close()
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

func (n *signalNode) token(identity string) string {
	n.t.Helper()
	tok, _, err := n.iss.Mint(context.Background(), auth.TokenRequest{Identity: identity, Account: "acct",
		Grants: auth.Grants{Rooms: []string{"*"}, Outgoing: true, Incoming: true}})
	if err != nil {
		n.t.Fatal(err)
	}
	return tok
}

// stored is what Redis holds: the account's participants, and the members
// of room.
func (n *signalNode) stored(room string) (parts, members []string) {
	n.t.Helper()
	ctx := context.Background()
	ps, err := n.store.Participants().List(ctx, "acct")
	if err != nil {
		n.t.Fatal(err)
	}
	for _, p := range ps {
		parts = append(parts, p.ID)
	}
	s, err := n.mgr.Session(ctx, "acct", rooms.RoomSessionID(room))
	if errors.Is(err, rooms.ErrNotFound) {
		return parts, nil
	}
	if err != nil {
		n.t.Fatal(err)
	}
	return parts, s.MemberIDs()
}

// storeUnavailable checks that err is the signaling error 503
// store_unavailable, answered within failFast of start.
func storeUnavailable(t *testing.T, what string, start time.Time, err error) {
	t.Helper()
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != 503 || pe.Reason != protocol.ReasonStoreUnavailable {
		t.Fatalf("%s: %v, want error 503 %s", what, err, protocol.ReasonStoreUnavailable)
	}
	if took := time.Since(start); took > failFast {
		t.Errorf("%s took %s, more than %s", what, took, failFast)
	}
}

// Signaling on Redis while Redis is away: connecting is refused with HTTP
// 503 store_unavailable before the upgrade, join and call answer error 503
// store_unavailable on the open connection, all within the fail-fast
// bound; the same connections and Client work once Redis is back, and what
// a join or a departure could not write while Redis hung is settled by the
// node on its own when it resumes, leaving no stale participant.
func TestSignalingRedisUnavailable(t *testing.T) {
	rs := startPrivateRedis(t)
	c := newClient(t, redis.Config{Addr: rs.addr(), Prefix: "signal:"})
	n := newSignalNode(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := n.dial(n.token("alice"))
	bob := n.dial(n.token("bob"))
	carolToken := n.token("carol")

	// Stopped.
	rs.stop()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+carolToken)
	start := time.Now()
	conn, resp, err := websocket.Dial(ctx, n.url, &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		_ = conn.CloseNow()
		t.Fatal("connecting with Redis stopped was accepted")
	}
	var body struct{ Code string }
	if resp == nil {
		t.Fatalf("connecting with Redis stopped: %v, no HTTP response", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(b, &body) != nil || body.Code != "store_unavailable" {
		t.Fatalf("connecting with Redis stopped: HTTP %d %s, want 503 store_unavailable", resp.StatusCode, b)
	}
	if took := time.Since(start); took > failFast {
		t.Errorf("the refusal took %s", took)
	}
	start = time.Now()
	_, err = alice.Join(ctx, client.JoinRequest{Room: "hall"})
	storeUnavailable(t, "join with Redis stopped", start, err)
	start = time.Now()
	_, err = alice.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	storeUnavailable(t, "call with Redis stopped", start, err)

	// Back (empty: the private Redis keeps nothing on disk).
	rs.start()
	waitFor(t, "the client to reach Redis again", func() bool { return c.Ping(ctx) == nil })
	joined, err := alice.Join(ctx, client.JoinRequest{Room: "hall"})
	if err != nil {
		t.Fatalf("join on the same connection after Redis came back: %v", err)
	}
	if parts, members := n.stored("hall"); !slices.Equal(parts, []string{joined.ParticipantID}) || !slices.Equal(members, parts) {
		t.Fatalf("after the join Redis holds participants %v, members %v; want only %s", parts, members, joined.ParticipantID)
	}
	n.dial(carolToken) // the token refused while Redis was away

	// Hung: bob's join and alice's departure cannot be written (a write
	// may reach Redis and run when it resumes, its answer lost).
	if err := rs.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	_, err = bob.Join(ctx, client.JoinRequest{Room: "hall"})
	storeUnavailable(t, "join with Redis hung", start, err)
	_ = alice.Close()
	waitFor(t, "alice's departure to wait for Redis", func() bool { return n.srv.PendingStoreWrites() > 0 })
	if err := rs.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the node to settle what it could not write", func() bool {
		parts, members := n.stored("hall")
		return len(parts) == 0 && len(members) == 0 && n.srv.PendingStoreWrites() == 0
	})
	joined, err = bob.Join(ctx, client.JoinRequest{Room: "hall"})
	if err != nil {
		t.Fatalf("join after Redis resumed: %v", err)
	}
	if parts, members := n.stored("hall"); !slices.Equal(parts, []string{joined.ParticipantID}) || !slices.Equal(members, parts) {
		t.Fatalf("after the join Redis holds participants %v, members %v; want only %s", parts, members, joined.ParticipantID)
	}
}
