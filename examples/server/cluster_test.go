package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/adapters/redis"
	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/internal/redistest"
)

// The cluster tests run examples/server as separate processes: the test
// binary itself, started with SWITCHBOARD_TEST_NODE set to the flags (JSON).
func TestMain(m *testing.M) {
	if args := os.Getenv("SWITCHBOARD_TEST_NODE"); args != "" {
		var flags []string
		if err := json.Unmarshal([]byte(args), &flags); err != nil {
			fmt.Fprintln(os.Stderr, "SWITCHBOARD_TEST_NODE:", err)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		err := run(ctx, flags, os.Stdout, os.Getenv)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// node is an examples/server process of a cluster.
type node struct {
	t    *testing.T
	id   string
	base string
	cmd  *exec.Cmd
	api  *webrtc.API
}

// cluster is what the nodes of a test share.
type cluster struct {
	t       *testing.T
	redis   string // host:port
	prefix  string // of every key
	keyFile string
	env     []string
}

func newCluster(t *testing.T, redisAddr string) *cluster {
	t.Helper()
	key, _ := auth.GenerateKey(auth.ES256)
	pemBytes, _ := auth.MarshalPrivateKeyPEM(key)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(keyFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	prefix := "sbtest:cluster:" + strings.ToLower(rand.Text()[:10]) + ":"
	t.Cleanup(func() { // leave the machine's Redis as it was
		c := goredis.NewClient(&goredis.Options{Addr: redisAddr, DisableIdentity: true})
		defer c.Close()
		keys, _ := c.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(context.Background(), keys...)
		}
	})
	return &cluster{t: t, redis: redisAddr, prefix: prefix, keyFile: keyFile, env: []string{
		"SWITCHBOARD_API_USER=" + apiUser, "SWITCHBOARD_API_SECRET=" + apiSecret,
		"SWITCHBOARD_CLUSTER_SECRET=" + strings.Repeat("c", 40),
	}}
}

// start runs a node named id, with extra flags; it is killed when the test ends.
func (c *cluster) start(id string, extra ...string) *node {
	t := c.t
	t.Helper()
	flags, _ := json.Marshal(append([]string{"-addr", "127.0.0.1:0", "-ice-ip", "127.0.0.1", "-demo=false",
		"-redis", c.redis, "-redis-prefix", c.prefix, "-key", c.keyFile, "-node-id", id, "-node-ttl", "2s"}, extra...))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), c.env...), "SWITCHBOARD_TEST_NODE="+string(flags))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, id: id, cmd: cmd}
	t.Cleanup(n.kill)
	lines := bufio.NewReader(out)
	first, err := lines.ReadString('\n')
	if err != nil {
		t.Fatalf("node %s: %v", id, err)
	}
	go func() { _, _ = io.Copy(io.Discard, lines) }()
	n.base = strings.TrimSpace(strings.TrimPrefix(first, "switchboard listening on "))
	if !strings.HasPrefix(n.base, "http://127.0.0.1:") {
		t.Fatalf("node %s: first line %q", id, first)
	}
	if n.api, err = client.NewAPI("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	return n
}

// kill ends the process at once (SIGKILL): nothing of it runs after.
func (n *node) kill() {
	if n.cmd.ProcessState == nil {
		_ = n.cmd.Process.Kill()
		_ = n.cmd.Wait()
	}
}

// rest sends a request with the API credentials and decodes the answer.
func (n *node) rest(method, path, body string, out any) int {
	n.t.Helper()
	req, _ := http.NewRequest(method, n.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(apiUser, apiSecret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

// token mints a user token on this node.
func (n *node) token(identity string, grants string) string {
	n.t.Helper()
	var tok struct{ Token string }
	if st := n.rest("POST", "/v1/tokens", `{"identity":"`+identity+`","grants":`+grants+`}`, &tok); st != http.StatusCreated {
		n.t.Fatalf("token for %s on %s: %d", identity, n.id, st)
	}
	return tok.Token
}

// dial connects identity to this node with grants, publishing a microphone
// that sends until the test ends.
func (n *node) dial(identity, grants string) *client.Client {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{URL: "ws" + strings.TrimPrefix(n.base, "http") + "/v1/signal", Token: n.token(identity, grants), API: n.api})
	if err != nil {
		n.t.Fatalf("%s on %s: %v", identity, n.id, err)
	}
	n.t.Cleanup(func() { _ = c.Close() })
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "x")
	if err := c.Publish("microphone", mic); err != nil {
		n.t.Fatal(err)
	}
	sendCtx, stop := context.WithCancel(context.Background())
	n.t.Cleanup(stop)
	go sendOpus(sendCtx, mic)
	return c
}

const (
	roomGrantsJSON = `{"rooms":["*"],"publish":["AUDIO"],"data":true}`
	callerJSON     = `{"outgoing":true,"publish":["AUDIO"]}`
	calleeJSON     = `{"incoming":true,"publish":["AUDIO"]}`
)

// hears waits until c receives 10 audio packets of one track.
func hears(t *testing.T, c *client.Client, who string) {
	t.Helper()
	select {
	case tr := <-c.Tracks():
		for i := 0; i < 10; i++ {
			_ = tr.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, _, err := tr.ReadRTP(); err != nil {
				t.Fatalf("%s: packet %d: %v", who, i, err)
			}
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("%s receives no track", who)
	}
}

// holder returns the live node holding the lease of a key ("" when none),
// as the nodes see it.
func (c *cluster) holder(account, key string) string {
	rc, err := redis.New(redis.Config{Addr: c.redis, Prefix: c.prefix})
	if err != nil {
		c.t.Fatal(err)
	}
	defer rc.Close()
	nodes, err := rc.Nodes(redis.NodesConfig{ID: "test-probe"})
	if err != nil {
		c.t.Fatal(err)
	}
	n, _, err := nodes.Holder(context.Background(), account, key)
	if err != nil {
		c.t.Fatal(err)
	}
	return n.ID
}

// Two nodes, one Redis: participants on node a and node b join one room and
// hear each other; a broadcast sent to b's REST API reaches both; a caller
// on a calls a callee on b, who rings, answers, and the media flows.
func TestTwoNodes(t *testing.T) {
	c := newCluster(t, redistest.Addr(t))
	a, b := c.start("node-a"), c.start("node-b")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	alice, bob := a.dial("alice", roomGrantsJSON), b.dial("bob", roomGrantsJSON)
	ja, err := alice.Join(ctx, client.JoinRequest{Room: "hall"})
	if err != nil {
		t.Fatal(err)
	}
	jb, err := bob.Join(ctx, client.JoinRequest{Room: "hall"})
	if err != nil {
		t.Fatal(err)
	}
	if ja.SessionID != jb.SessionID || len(jb.Participants) != 1 || jb.Participants[0].Identity != "alice" {
		t.Fatalf("joined %+v and %+v", ja, jb)
	}
	holder := c.holder("default", "room:"+ja.SessionID)
	if holder != "node-a" && holder != "node-b" {
		t.Fatalf("the room's lease is held by %q", holder)
	}
	t.Logf("the room lives on %s", holder)
	hears(t, alice, "alice")
	hears(t, bob, "bob")

	<-alice.DataChannelOpen()
	<-bob.DataChannelOpen()
	var got struct{ Received int }
	if st := b.rest("POST", "/v1/sessions/"+ja.SessionID+"/broadcast", `{"text":"all hands"}`, &got); st != http.StatusOK || got.Received != 2 {
		t.Fatalf("broadcast through node-b: %d, received %d", st, got.Received)
	}
	for who, cl := range map[string]*client.Client{"alice": alice, "bob": bob} {
		select {
		case d := <-cl.Data():
			if d.Type != protocol.DataBroadcast || d.Text != "all hands" {
				t.Fatalf("%s: %+v", who, d)
			}
		case <-ctx.Done():
			t.Fatalf("%s: no broadcast", who)
		}
	}

	// A call from a user on a to a user on b.
	dave := b.dial("dave", calleeJSON) // dave's home is node-b
	carol := a.dial("carol", callerJSON)
	id, err := carol.Call(ctx, "dave", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	in := waitType(t, dave, protocol.TypeIncoming)
	if in.CallID != id || in.From != "carol" {
		t.Fatalf("incoming %+v", in)
	}
	if err := dave.Accept(id, protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	if got := callStates(t, carol, id, protocol.StateConfirmed); strings.Join(got, ",") != "connecting,ringing,accepted,confirmed" {
		t.Fatalf("carol's call states %v", got)
	}
	hears(t, dave, "dave")
	hears(t, carol, "carol")
	// The calls API of either node sees it.
	var info struct{ State string }
	if st := a.rest("GET", "/v1/calls/"+id, "", &info); st != http.StatusOK || info.State != "confirmed" {
		t.Fatalf("GET the call on node-a: %d %+v", st, info)
	}
}

func waitType(t *testing.T, c *client.Client, typ string) protocol.Message {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-c.Events():
			if m.Type == typ {
				return m
			}
		case <-deadline:
			t.Fatalf("no %s", typ)
		}
	}
}

// SIGKILL the node a room lives on: within the lease its room is released,
// a rejoin through the other node lands there, and nothing in Redis points
// at the dead node.
func TestNodeKilled(t *testing.T) {
	c := newCluster(t, redistest.Addr(t))
	nodes := map[string]*node{"node-a": c.start("node-a"), "node-b": c.start("node-b")}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := nodes["node-a"].dial("alice", roomGrantsJSON)
	j, err := alice.Join(ctx, client.JoinRequest{Room: "doomed"})
	if err != nil {
		t.Fatal(err)
	}
	dead := c.holder("default", "room:"+j.SessionID)
	if nodes[dead] == nil {
		t.Fatalf("the room's lease is held by %q", dead)
	}
	live := "node-a"
	if dead == "node-a" {
		live = "node-b"
	}
	nodes[dead].kill()

	bob := nodes[live].dial("bob", roomGrantsJSON)
	deadline := time.Now().Add(10 * time.Second) // the lease is 2 s
	for {
		jb, err := bob.Join(ctx, client.JoinRequest{Room: "doomed"})
		if err == nil {
			if jb.SessionID != j.SessionID {
				t.Fatalf("rejoined %s, want %s", jb.SessionID, j.SessionID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rejoin through %s: %v", live, err)
		}
		time.Sleep(200 * time.Millisecond) // the dead node's lease has not lapsed yet: retry as a client would
	}
	if h := c.holder("default", "room:"+j.SessionID); h != live {
		t.Fatalf("the room is on %q, want %s", h, live)
	}
	if refs := c.pointingAt(dead); len(refs) > 0 {
		t.Fatalf("Redis still points at %s: %v", dead, refs)
	}
}

// pointingAt lists the keys under the cluster's prefix that name node id,
// in their name, as a value or as a member.
func (c *cluster) pointingAt(id string) []string {
	r := goredis.NewClient(&goredis.Options{Addr: c.redis, DisableIdentity: true})
	defer r.Close()
	bg := context.Background()
	keys, _ := r.Keys(bg, c.prefix+"*").Result()
	var out []string
	for _, k := range keys {
		if strings.Contains(k, id) {
			out = append(out, k)
			continue
		}
		switch typ, _ := r.Type(bg, k).Result(); typ {
		case "string":
			if v, _ := r.Get(bg, k).Result(); v == id {
				out = append(out, k+" = "+v)
			}
		case "zset":
			if _, err := r.ZScore(bg, k, id).Result(); err == nil {
				out = append(out, k+" ∋ "+id)
			}
		case "set":
			if ok, _ := r.SIsMember(bg, k, id).Result(); ok {
				out = append(out, k+" ∋ "+id)
			}
		}
	}
	return out
}

// Redis stopped mid-run: the API answers 503 store_unavailable and nothing
// panics; Redis back (empty, as a restarted Redis without persistence is):
// the nodes serve again without being restarted.
func TestRedisStoppedAndRestarted(t *testing.T) {
	rs := redistest.Start(t)
	c := newCluster(t, rs.Addr())
	a, b := c.start("node-a"), c.start("node-b")
	if st := a.rest("POST", "/v1/sessions", `{}`, nil); st != http.StatusCreated {
		t.Fatalf("Redis up: %d", st)
	}
	rs.Stop()
	for _, n := range []*node{a, b} {
		var e struct{ Code string }
		if st := n.rest("POST", "/v1/sessions", `{}`, &e); st != http.StatusServiceUnavailable || e.Code != "store_unavailable" {
			t.Fatalf("%s with Redis down: %d %q", n.id, st, e.Code)
		}
	}
	rs.Restart()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := b.rest("POST", "/v1/sessions", `{}`, nil)
		if st == http.StatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis back, node-b still answers %d", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Both nodes serve a room again (a user token is checked against Redis
	// on connect; the room is placed anew).
	alice, bob := a.dial("alice", roomGrantsJSON), b.dial("bob", roomGrantsJSON)
	if _, err := alice.Join(ctx, client.JoinRequest{Room: "after"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Join(ctx, client.JoinRequest{Room: "after"}); err != nil {
		t.Fatal(err)
	}
	hears(t, alice, "alice")
	hears(t, bob, "bob")
}

// Recordings are kept by the node that wrote them; the API of any node
// lists them all (pages merged across nodes, the cursor continuing on
// each) and serves each one and its media, byte for byte.
func TestRecordingsAcrossNodes(t *testing.T) {
	c := newCluster(t, redistest.Addr(t))
	a, b := c.start("node-a", "-recording", "AUDIO"), c.start("node-b", "-recording", "AUDIO")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice, bob := a.dial("alice", roomGrantsJSON), b.dial("bob", roomGrantsJSON)
	j, err := alice.Join(ctx, client.JoinRequest{Room: "minutes"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Join(ctx, client.JoinRequest{Room: "minutes"}); err != nil {
		t.Fatal(err)
	}
	hears(t, alice, "alice")
	owner, other := a, b
	if c.holder("default", "room:"+j.SessionID) == "node-b" {
		owner, other = b, a
	}
	// Started and stopped through the node that does not hold the room.
	if st := other.rest("POST", "/v1/recordings", `{"sessionId":"`+j.SessionID+`","type":"AUDIO"}`, nil); st != http.StatusCreated {
		t.Fatalf("start through %s: %d", other.id, st)
	}
	type rec struct {
		ID, Status string
		Bytes      int64
	}
	var page struct {
		Recordings []rec
		NextCursor string
	}
	// A participant's file is created at its first packet: both exist
	// (listed through the other node) before the recording stops.
	deadline := time.Now().Add(15 * time.Second)
	for len(page.Recordings) < 2 {
		if st := other.rest("GET", "/v1/recordings?sessionId="+j.SessionID, "", &page); st != http.StatusOK {
			t.Fatalf("list on %s: %d", other.id, st)
		}
		if time.Now().After(deadline) {
			t.Fatalf("recordings listed on %s while recording: %+v", other.id, page.Recordings)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := other.rest("DELETE", "/v1/recordings/active/sessions/"+j.SessionID, "", nil); st != http.StatusNoContent {
		t.Fatalf("stop through %s: %d", other.id, st)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		page.Recordings = nil
		if st := other.rest("GET", "/v1/recordings?sessionId="+j.SessionID, "", &page); st != http.StatusOK {
			t.Fatalf("list on %s: %d", other.id, st)
		}
		done := len(page.Recordings) >= 3 // two participants and the mix
		for _, r := range page.Recordings {
			done = done && r.Status == "completed"
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			var mine struct{ Recordings []rec }
			st := owner.rest("GET", "/v1/recordings?sessionId="+j.SessionID, "", &mine)
			t.Fatalf("recordings listed on %s: %+v; on %s: %d %+v", other.id, page.Recordings, owner.id, st, mine.Recordings)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Each one, and its media, from the node that did not write it.
	for _, r := range page.Recordings {
		var one rec
		if st := other.rest("GET", "/v1/recordings/"+r.ID, "", &one); st != http.StatusOK || one.ID != r.ID {
			t.Fatalf("GET %s on %s: %d %+v", r.ID, other.id, st, one)
		}
		mine, theirs := media(t, owner, r.ID), media(t, other, r.ID)
		if len(mine) == 0 || int64(len(mine)) != r.Bytes || string(mine) != string(theirs) {
			t.Fatalf("media of %s: %d bytes from %s, %d from %s, %d in the metadata", r.ID, len(mine), owner.id, len(theirs), other.id, r.Bytes)
		}
	}
	// Pages of one: every recording once, in the order of the whole list.
	var seen []string
	for cursor := ""; ; {
		var p struct {
			Recordings []rec
			NextCursor string
		}
		q := "/v1/recordings?limit=1&sessionId=" + j.SessionID
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		if st := other.rest("GET", q, "", &p); st != http.StatusOK || len(p.Recordings) > 1 {
			t.Fatalf("page on %s: %d %+v", other.id, st, p)
		}
		for _, r := range p.Recordings {
			seen = append(seen, r.ID)
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	var want []string
	for _, r := range page.Recordings {
		want = append(want, r.ID)
	}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("paged %v, listed %v", seen, want)
	}
}

// media fetches a recording's media from n.
func media(t *testing.T, n *node, id string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", n.base+"/v1/recordings/"+id+"/media", nil)
	req.SetBasicAuth(apiUser, apiSecret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("media of %s from %s: %d %s", id, n.id, res.StatusCode, b)
	}
	return b
}
