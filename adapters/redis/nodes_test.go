package redis_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/adapters/redis"
)

func newNodes(t *testing.T, c *redis.Client, cfg redis.NodesConfig) *redis.Nodes {
	t.Helper()
	n, err := c.Nodes(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func heartbeat(t *testing.T, ns ...*redis.Nodes) {
	t.Helper()
	for _, n := range ns {
		if err := n.Heartbeat(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// A new room goes to the live node with the fewest rooms; many nodes
// placing many rooms at once spread them evenly, and placing one room from
// every node at once gives one answer.
func TestNodesPlaceLeastLoaded(t *testing.T) {
	ctx := context.Background()
	next := clients(t)
	var nodes []*redis.Nodes
	for i := range 3 {
		nodes = append(nodes, newNodes(t, next(), redis.NodesConfig{ID: fmt.Sprintf("node-%d", i), Addr: fmt.Sprintf("10.0.0.%d:7880", i)}))
	}
	if _, err := nodes[0].Place(ctx, "acct", "room"); !errors.Is(err, redis.ErrNoLiveNode) {
		t.Fatalf("Place with no live node: %v, want ErrNoLiveNode", err)
	}
	heartbeat(t, nodes...)
	const rooms = 30
	var mu sync.Mutex
	per := map[string]int{}
	var wg sync.WaitGroup
	for r := range rooms {
		wg.Go(func() {
			n, err := nodes[r%3].Place(ctx, "acct", fmt.Sprintf("room-%d", r))
			if err != nil {
				t.Errorf("Place: %v", err)
				return
			}
			if want := "10.0.0." + strings.TrimPrefix(n.ID, "node-") + ":7880"; n.Addr != want {
				t.Errorf("node %s with address %q, want %q", n.ID, n.Addr, want)
			}
			mu.Lock()
			per[n.ID]++
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, n := range nodes {
		if per[n.ID()] != rooms/3 {
			t.Fatalf("rooms per node %v, want %d each", per, rooms/3)
		}
	}
	live, err := nodes[1].Live(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 3 {
		t.Fatalf("live nodes %+v", live)
	}
	for _, n := range live {
		if n.Rooms != rooms/3 {
			t.Fatalf("node %s reports %d rooms, want %d", n.ID, n.Rooms, rooms/3)
		}
	}
	// One room placed from every node at once: one owner.
	answers := make(chan string, 15)
	for i := range 15 {
		wg.Go(func() {
			n, err := nodes[i%3].Place(ctx, "acct", "contended")
			if err != nil {
				t.Errorf("Place: %v", err)
			}
			answers <- n.ID
		})
	}
	wg.Wait()
	close(answers)
	first := <-answers
	for a := range answers {
		if a != first {
			t.Fatalf("one room placed on %s and on %s", first, a)
		}
	}
	// The same room name in another account is another room.
	h, ok, err := nodes[0].Holder(ctx, "other", "contended")
	if err != nil || ok {
		t.Fatalf("another account's room has a holder: %+v %v %v", h, ok, err)
	}
}

// A node that stops heartbeating loses its rooms within its TTL, they go
// to a live node on the next Place, and nothing in Redis points at the dead
// node afterwards.
func TestNodesDeadNodeReleased(t *testing.T) {
	ctx := context.Background()
	addr := redisAddr(t)
	prefix := testPrefix(t, addr)
	cfg := redis.Config{Addr: addr, Prefix: prefix}
	const ttl = 400 * time.Millisecond
	a := newNodes(t, newClient(t, cfg), redis.NodesConfig{ID: "node-a", TTL: ttl})
	b := newNodes(t, newClient(t, cfg), redis.NodesConfig{ID: "node-b", TTL: ttl, Interval: ttl / 4})
	heartbeat(t, a, b)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Run(runCtx)
	}()
	defer func() {
		stop()
		<-done
	}()
	var onA []string
	for r := range 6 {
		room := fmt.Sprintf("room-%d", r)
		n, err := b.Place(ctx, "acct", room)
		if err != nil {
			t.Fatal(err)
		}
		if n.ID == "node-a" {
			onA = append(onA, room)
		}
	}
	heartbeat(t, a) // node a's last heartbeat
	lastBeat := time.Now()
	if len(onA) != 3 {
		t.Fatalf("node a got %d of 6 rooms, want 3", len(onA))
	}
	// Within the lease, node a holds its rooms; after it, nobody does.
	deadline := lastBeat.Add(10 * time.Second)
	for {
		_, held, err := b.Holder(ctx, "acct", onA[0])
		if err != nil {
			t.Fatal(err)
		}
		if !held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node a still holds its room %s after it stopped heartbeating", time.Since(lastBeat))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if gone := time.Since(lastBeat); gone < ttl-20*time.Millisecond {
		t.Fatalf("node a lost its room %s after its last heartbeat, before its TTL of %s", gone, ttl)
	}
	live, err := b.Live(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 1 || live[0].ID != "node-b" {
		t.Fatalf("live nodes after a died: %+v", live)
	}
	for _, room := range onA {
		n, err := b.Place(ctx, "acct", room)
		if err != nil || n.ID != "node-b" {
			t.Fatalf("rejoining %s placed it on %+v (%v), want node-b", room, n, err)
		}
	}
	// Node b's Run renews what it got: the leases outlive several TTLs.
	renewedUntil := time.Now().Add(3 * ttl)
	for time.Now().Before(renewedUntil) {
		if n, held, err := a.Holder(ctx, "acct", onA[0]); err != nil || !held || n.ID != "node-b" {
			t.Fatalf("node b's lease lapsed while it heartbeats: %+v %v %v", n, held, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if refs := keysMentioning(t, addr, prefix, "node-a"); len(refs) > 0 {
		t.Fatalf("Redis still points at the dead node: %v", refs)
	}
	// Run's end leaves the registry: node b's rooms are free at once.
	stop()
	<-done
	if live, _ := a.Live(ctx); len(live) != 0 {
		t.Fatalf("live after both left: %+v", live)
	}
	if _, held, _ := a.Holder(ctx, "acct", onA[0]); held {
		t.Fatal("a room is still held after its node left")
	}
}

// Release gives up only this node's own lease.
func TestNodesRelease(t *testing.T) {
	ctx := context.Background()
	next := clients(t)
	a := newNodes(t, next(), redis.NodesConfig{ID: "node-a"})
	b := newNodes(t, next(), redis.NodesConfig{ID: "node-b"})
	heartbeat(t, a)
	if n, err := b.Place(ctx, "acct", "room"); err != nil || n.ID != "node-a" {
		t.Fatalf("Place: %+v %v", n, err)
	}
	heartbeat(t, b)
	if err := b.Release(ctx, "acct", "room"); err != nil {
		t.Fatal(err)
	}
	if n, held, _ := b.Holder(ctx, "acct", "room"); !held || n.ID != "node-a" {
		t.Fatalf("another node's Release took node a's room: %+v %v", n, held)
	}
	if err := a.Release(ctx, "acct", "room"); err != nil {
		t.Fatal(err)
	}
	if _, held, _ := b.Holder(ctx, "acct", "room"); held {
		t.Fatal("the room is still held after its node released it")
	}
	live, _ := a.Live(ctx)
	for _, n := range live {
		if n.Rooms != 0 {
			t.Fatalf("node %s still counts %d rooms", n.ID, n.Rooms)
		}
	}
	if _, err := next().Nodes(redis.NodesConfig{TTL: time.Second, Interval: time.Second}); err == nil {
		t.Fatal("an Interval as long as the TTL was accepted")
	}
}

// keysMentioning lists the keys under prefix whose name or value mentions s.
func keysMentioning(t *testing.T, addr, prefix, s string) []string {
	t.Helper()
	ctx := context.Background()
	c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true})
	defer c.Close()
	var out []string
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		var vals []string
		switch c.Type(ctx, k).Val() {
		case "string":
			vals = []string{c.Get(ctx, k).Val()}
		case "hash":
			for f, v := range c.HGetAll(ctx, k).Val() {
				vals = append(vals, f, v)
			}
		case "set":
			vals = c.SMembers(ctx, k).Val()
		case "zset":
			vals = c.ZRange(ctx, k, 0, -1).Val()
		case "list":
			vals = c.LRange(ctx, k, 0, -1).Val()
		}
		if strings.Contains(k, s) || strings.Contains(strings.Join(vals, "\x00"), s) {
			out = append(out, k)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
