package calling_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// memLeases is an in-process Cluster for tests of two Servers in one
// process (adapters/redis.Nodes is the real one, tested against Redis and
// through two examples/server processes).
type memLeases struct {
	mu    sync.Mutex
	addr  map[string]string // node → signaling URL
	lease map[string]string // account|key → node
}

type memNode struct {
	l  *memLeases
	id string
}

var _ calling.Cluster = memNode{}

func (n memNode) NodeID() string { return n.id }

func (n memNode) holder(k string) string {
	if id, ok := n.l.lease[k]; ok {
		if _, live := n.l.addr[id]; live {
			return id
		}
	}
	return ""
}

func (n memNode) Place(_ context.Context, account, key string) (string, string, error) {
	n.l.mu.Lock()
	defer n.l.mu.Unlock()
	k := account + "|" + key
	if id := n.holder(k); id != "" {
		return id, n.l.addr[id], nil
	}
	load := map[string]int{}
	for _, id := range n.l.lease {
		load[id]++
	}
	var ids []string
	for id := range n.l.addr {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	best := ids[0]
	for _, id := range ids {
		if load[id] < load[best] {
			best = id
		}
	}
	n.l.lease[k] = best
	return best, n.l.addr[best], nil
}

func (n memNode) Claim(_ context.Context, account, key string) (string, string, error) {
	n.l.mu.Lock()
	defer n.l.mu.Unlock()
	k := account + "|" + key
	if id := n.holder(k); id != "" {
		return id, n.l.addr[id], nil
	}
	n.l.lease[k] = n.id
	return n.id, n.l.addr[n.id], nil
}

func (n memNode) Holder(_ context.Context, account, key string) (string, string, error) {
	n.l.mu.Lock()
	defer n.l.mu.Unlock()
	id := n.holder(account + "|" + key)
	return id, n.l.addr[id], nil
}

func (n memNode) Release(_ context.Context, account, key string) error {
	n.l.mu.Lock()
	defer n.l.mu.Unlock()
	if n.l.lease[account+"|"+key] == n.id {
		delete(n.l.lease, account+"|"+key)
	}
	return nil
}

func (l *memLeases) holderOf(account, key string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lease[account+"|"+key]
}

// newClusterEnvs starts two Servers, "a" and "b", that share the rooms,
// the token keys, the busy marks and a memLeases, each on its own HTTP
// server, as two nodes of one deployment.
func newClusterEnvs(t *testing.T, mods ...func(*calling.Config)) (a, b *env, leases *memLeases) {
	t.Helper()
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	replay := auth.NewMemoryReplayCache(auth.MemoryReplayCacheConfig{})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: replay})
	store, bus := rooms.NewMemoryStore(), rooms.NewMemoryBus()
	presence := calling.NewMemoryPresence()
	leases = &memLeases{addr: map[string]string{}, lease: map[string]string{}}
	secret := []byte(strings.Repeat("s", 32))
	var envs []*env
	for _, id := range []string{"a", "b"} {
		mgr, err := rooms.NewManager(rooms.Config{Store: store, Bus: bus})
		if err != nil {
			t.Fatal(err)
		}
		cfg := calling.Config{Rooms: mgr, Verifier: ver, Presence: presence,
			Cluster: memNode{leases, id}, ClusterSecret: secret, Media: calling.MediaConfig{ICEIPs: []string{"127.0.0.1"}}}
		for _, mod := range mods {
			mod(&cfg)
		}
		srv, err := calling.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/v1/signal", srv)
		hs := httptest.NewServer(mux)
		leases.mu.Lock()
		leases.addr[id] = hs.URL + "/v1/signal"
		leases.mu.Unlock()
		api, err := client.NewAPI("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		e := &env{t: t, issuer: iss, replay: replay, rooms: mgr, srv: srv, http: hs, api: api,
			wsURL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/signal"}
		t.Cleanup(e.close)
		envs = append(envs, e)
	}
	return envs[0], envs[1], leases
}

// A participant on node b and one on node a join a room that lives on a:
// b relays its participant there, both hear each other, and a broadcast
// sent through b reaches both.
func TestClusterRoomAcrossNodes(t *testing.T) {
	a, b, leases := newClusterEnvs(t)
	sid := rooms.RoomSessionID("standup")
	if node, _, _ := (memNode{leases, "a"}).Claim(context.Background(), acct, "room:"+sid); node != "a" {
		t.Fatalf("room placed on %q", node)
	}
	ctx := ctxT(t, 30*time.Second)
	alice, bob := b.dial("alice"), a.dial("bob")
	aMic, bMic := withMic(t, alice), withMic(t, bob)
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sendOpus(sendCtx, aMic)
	go sendOpus(sendCtx, bMic)
	if _, err := bob.Join(ctx, client.JoinRequest{Room: "standup"}); err != nil {
		t.Fatal(err)
	}
	j, err := alice.Join(ctx, client.JoinRequest{Room: "standup"})
	if err != nil {
		t.Fatal(err)
	}
	if j.SessionID != sid || len(j.Participants) != 1 || j.Participants[0].Identity != "bob" {
		t.Fatalf("joined %+v", j)
	}
	readIntact(t, anyTrack(t, alice), 10)
	readIntact(t, anyTrack(t, bob), 10)
	if n := len(mustSession(t, a, sid).Members); n != 2 {
		t.Fatalf("%d members", n)
	}

	<-alice.DataChannelOpen()
	<-bob.DataChannelOpen()
	n, err := b.srv.Broadcast(ctx, acct, sid, "all hands")
	if err != nil || n != 2 {
		t.Fatalf("broadcast through b: %d, %v", n, err)
	}
	for _, c := range []*client.Client{alice, bob} {
		select {
		case d := <-c.Data():
			if d.Type != protocol.DataBroadcast || d.Text != "all hands" {
				t.Fatalf("data %+v", d)
			}
		case <-ctx.Done():
			t.Fatal("no broadcast")
		}
	}

	// Leaving ends the relay and the room; the lease goes with the room.
	_ = alice.Close()
	_ = bob.Close()
	waitFor(t, func() bool { return leases.holderOf(acct, "room:"+sid) == "" })
}

func mustSession(t *testing.T, e *env, sid string) *rooms.Session {
	t.Helper()
	s, err := e.rooms.Session(context.Background(), acct, sid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A caller on node b calls a callee whose home is node a: the call is
// relayed to a, rings, connects with media both ways, and after it ends the
// caller's connection is served by b again (it places a call there). A
// second connection of the callee that reaches b is relayed to its home
// and rings too. The calls API of b finds and hangs up a call on a.
func TestClusterCallAcrossNodes(t *testing.T) {
	a, b, leases := newClusterEnvs(t)
	ctx := ctxT(t, 40*time.Second)
	bob := a.phone("bob") // bob's home is a
	waitFor(t, func() bool { return leases.holderOf(acct, "identity:bob") == "a" })
	bob2 := b.phone("bob") // relayed to a, where it rings
	carol := b.dialToken(b.token("carol", auth.Grants{Outgoing: true, Publish: []auth.Media{auth.MediaAudio}}))
	cMic, bMic := withMic(t, carol), withMic(t, bob)
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sendOpus(sendCtx, cMic)
	go sendOpus(sendCtx, bMic)

	id, err := carol.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	if in := incoming(t, bob); in.CallID != id || in.From != "carol" {
		t.Fatalf("incoming %+v", in)
	}
	if in := incoming(t, bob2); in.CallID != id {
		t.Fatalf("second device incoming %+v", in)
	}
	if _, ok := a.srv.Call(acct, id); !ok {
		t.Fatal("the call does not live on bob's home node")
	}
	if err := bob.Accept(id, protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	eq(t, "carol", states(t, carol, id, protocol.StateConfirmed), "connecting", "ringing", "accepted", "confirmed")
	eq(t, "bob2", states(t, bob2, id, protocol.StateEnded), "ringing", "ended(answered_elsewhere)")
	readIntact(t, anyTrack(t, bob), 10)
	readIntact(t, anyTrack(t, carol), 10)

	// The calls API of b sees the call on a, and hangs it up.
	c, ok := b.srv.Call(acct, id)
	if ok {
		t.Fatalf("b holds the call itself: %+v", c.Info())
	}
	get := callsREST(t, b, http.MethodGet, id)
	if get.StatusCode != http.StatusOK {
		t.Fatalf("GET on b: %d", get.StatusCode)
	}
	if del := callsREST(t, b, http.MethodDelete, id); del.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE on b: %d", del.StatusCode)
	}
	eq(t, "carol end", states(t, carol, id, protocol.StateEnded), "ended(normal)")

	// carol is served by b again: a call to dave, whose home is b, lives on b.
	dave := b.phone("dave")
	waitFor(t, func() bool { return leases.holderOf(acct, "identity:dave") == "b" })
	id2, err := carol.Call(ctx, "dave", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	if in := incoming(t, dave); in.CallID != id2 {
		t.Fatalf("dave incoming %+v", in)
	}
	if _, ok := b.srv.Call(acct, id2); !ok {
		t.Fatal("the second call does not live on b")
	}

	// A server call placed through b's API to bob lives on a.
	sc, err := b.srv.PlaceCall(ctx, acct, "support", "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.srv.Call(acct, sc.Info().ID); !ok {
		t.Fatal("the server call does not live on a")
	}
	if in := incoming(t, bob); in.CallID != sc.Info().ID {
		t.Fatalf("bob incoming %+v", in)
	}
}

// callsREST sends a request of the calls API to e's server as an admin.
func callsREST(t *testing.T, e *env, method, id string) *http.Response {
	t.Helper()
	admin := &auth.Claims{Subject: "backend", Account: acct, Grants: auth.Grants{Admin: true}}
	return rest(e.restAPI(), admin, method, "/v1/calls/"+id, "").Result()
}

// A request that claims to come from another node is refused unless the
// cluster secret signed it, recently: a client cannot skip the checks a
// relayed connection is spared (single use, per-identity limits, ringing).
func TestClusterRelayAuthentication(t *testing.T) {
	a, _, _ := newClusterEnvs(t)
	tok := a.token("mallory", callGrants)
	for name, h := range map[string]map[string]string{
		"no signature":  {"Switchboard-Relay": "connection", "Switchboard-Relay-Time": fmt.Sprint(time.Now().Unix())},
		"bad signature": {"Switchboard-Relay": "room", "Switchboard-Relay-Time": fmt.Sprint(time.Now().Unix()), "Switchboard-Relay-Signature": "AAAA"},
		"old time":      {"Switchboard-Relay": "call", "Switchboard-Relay-Time": "1", "Switchboard-Relay-Signature": "AAAA"},
		"request":       {"Switchboard-Relay": "broadcast", "Switchboard-Relay-Time": fmt.Sprint(time.Now().Unix()), "Switchboard-Relay-Signature": "AAAA"},
	} {
		method := http.MethodGet
		if h["Switchboard-Relay"] == "broadcast" {
			method = http.MethodPost
		}
		req, _ := http.NewRequest(method, a.http.URL+"/v1/signal", strings.NewReader(`{"account":"acct-1","sessionId":"x","text":"spoofed"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Code string }
		_ = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || body.Code != "relay_unauthorized" {
			t.Errorf("%s: %d %q", name, res.StatusCode, body.Code)
		}
	}
	// Without a cluster, the headers mean nothing to it but a 404.
	single := newEnv(t, nil)
	req, _ := http.NewRequest(http.MethodPost, single.http.URL+"/v1/signal", nil)
	req.Header.Set("Switchboard-Relay", "broadcast")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("no cluster: %d", res.StatusCode)
	}
}

// A single-use token relayed to another node works there: the relaying
// node used it up, the serving node checks it without using it again.
func TestClusterSingleUseTokenRelayed(t *testing.T) {
	a, b, leases := newClusterEnvs(t)
	sid := rooms.RoomSessionID("once")
	(memNode{leases, "a"}).Claim(context.Background(), acct, "room:"+sid)
	tok, _, err := b.issuer.Mint(context.Background(), auth.TokenRequest{Identity: "olga", Account: acct, Grants: roomGrants, SingleUse: true})
	if err != nil {
		t.Fatal(err)
	}
	c := b.dialToken(tok)
	if _, err := c.Join(ctxT(t, 10*time.Second), client.JoinRequest{Room: "once"}); err != nil {
		t.Fatalf("join relayed to a with a single-use token: %v", err)
	}
	if n := len(mustSession(t, a, sid).Members); n != 1 {
		t.Fatalf("%d members", n)
	}
}

// A recording on demand asked of node b for a room on node a starts and
// stops there; b answers with what a decided.
func TestClusterRecordingOnDemand(t *testing.T) {
	rec := newFakeRecorder()
	_, b, leases := newClusterEnvs(t, func(c *calling.Config) { c.Recorder = rec })
	sid := rooms.RoomSessionID("minutes")
	(memNode{leases, "a"}).Claim(context.Background(), acct, "room:"+sid)
	ctx := ctxT(t, 20*time.Second)
	alice := b.dial("alice")
	withMic(t, alice)
	log := logEvents(t, alice)
	if _, err := alice.Join(ctx, client.JoinRequest{Room: "minutes"}); err != nil {
		t.Fatal(err)
	}
	target := calling.RecordingTarget{Account: acct, SessionID: sid}
	if err := b.srv.StopRecording(ctx, target); !errors.Is(err, calling.ErrNotRecording) {
		t.Fatalf("stop through b before start: %v", err)
	}
	if typ, err := b.srv.StartRecording(ctx, target, "AUDIO"); err != nil || typ != "AUDIO" {
		t.Fatalf("start through b: %q %v", typ, err)
	}
	if _, err := b.srv.StartRecording(ctx, target, "AUDIO"); !errors.Is(err, calling.ErrAlreadyRecording) {
		t.Fatalf("start again through b: %v", err)
	}
	log.wait(t, "recordingStarted", 1, isType(protocol.TypeRecordingStarted))
	if err := b.srv.StopRecording(ctx, target); err != nil {
		t.Fatalf("stop through b: %v", err)
	}
	log.wait(t, "recordingStopped", 1, isType(protocol.TypeRecordingStopped))
}

func (l *memLeases) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for k := range l.lease {
		if strings.HasPrefix(k, acct+"|"+prefix) {
			n++
		}
	}
	return n
}

// Refused joins and calls leave no lease behind: a room placed for a join
// that failed, a call refused at the server's limit.
func TestClusterRefusalsLeaveNoLease(t *testing.T) {
	a, b, leases := newClusterEnvs(t, func(c *calling.Config) { c.Limits.Calls = 1 })
	ctx := ctxT(t, 20*time.Second)
	alice := b.dial("alice")
	if _, err := alice.Join(ctx, client.JoinRequest{Room: strings.Repeat("x", 300)}); err == nil {
		t.Fatal("a 300-character room name was accepted")
	}
	waitFor(t, func() bool { return leases.count("room:") == 0 })

	a.phone("bob") // connected, so the first call rings and stays live
	if _, err := a.srv.PlaceCall(ctx, acct, "support", "bob", protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.srv.PlaceCall(ctx, acct, "support", "bob", protocol.CallOptions{Audio: true}); err == nil {
		t.Fatal("a second call past Limits.Calls was placed")
	}
	waitFor(t, func() bool { return leases.count("call:") == 1 })
}

// The cluster secret is at least 32 bytes: 32 is taken (newClusterEnvs),
// 31 refused.
func TestClusterSecretLength(t *testing.T) {
	_, _, leases := newClusterEnvs(t)
	mgr, _ := rooms.NewManager(rooms.Config{})
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	if _, err := calling.New(calling.Config{Rooms: mgr, Verifier: ver, Cluster: memNode{leases, "c"}, ClusterSecret: []byte(strings.Repeat("s", 31))}); err == nil {
		t.Fatal("a 31-byte cluster secret was accepted")
	}
}

// A request between nodes is read up to 64 KiB: one byte more is 413
// before any signature check; at the limit it is read (and this forged one
// refused 401).
func TestClusterRequestBodyLimit(t *testing.T) {
	a, _, _ := newClusterEnvs(t)
	for _, tc := range []struct {
		size   int
		status int
	}{{64 << 10, http.StatusUnauthorized}, {64<<10 + 1, http.StatusRequestEntityTooLarge}} {
		req, _ := http.NewRequest(http.MethodPost, a.http.URL+"/v1/signal", strings.NewReader(strings.Repeat("x", tc.size)))
		req.Header.Set("Switchboard-Relay", "broadcast")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("%d bytes: %d, want %d", tc.size, res.StatusCode, tc.status)
		}
	}
}
