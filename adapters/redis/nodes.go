package redis

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultNodeTTL is NodesConfig.TTL's default.
const DefaultNodeTTL = 10 * time.Second

// NodesConfig configures Client.Nodes. The zero value works.
type NodesConfig struct {
	// ID names this node, unique in the deployment. Default: "n-" and a
	// random text.
	ID string
	// Addr is where the other nodes reach this one (host:port), kept with
	// the node for whoever routes to it. Default: none.
	Addr string
	// TTL is how long a node counts as live after its last heartbeat, and
	// the lifetime of its room leases: a node that stops heartbeating is
	// no longer chosen at once when its record lapses, and its rooms are
	// free for other nodes TTL after its last heartbeat at most. Default
	// DefaultNodeTTL (10 s).
	TTL time.Duration
	// Interval is the time between heartbeats in Run. Default TTL/3.
	Interval time.Duration
}

// Node is a live node.
type Node struct {
	ID   string
	Addr string
	// Rooms is the number of room leases the node holds (its load).
	Rooms int
}

// Nodes is this node's membership in the registry of nodes and its view of
// room placement. A room lives on one node; the room → node map is a lease
// in Redis (<prefix>nodes:room:<account>:<room> holding the node id) that
// the owning node renews at every heartbeat. Place puts a room without a
// live owner on the live node with the fewest rooms; a node that dies
// stops renewing, so its record lapses after TTL and with it its leases,
// and the next Place of those rooms picks another node. Heartbeat, Place,
// Holder, Release, Leave and Live are each one script, so two nodes placing
// one room at once get the same answer.
//
// Package calling uses it through Cluster (calling.Config.Cluster): Place
// when a participant joins a room, Claim for the home of an identity that
// may receive calls, Holder to find where a room or a call lives, Release
// when a room empties or an identity's last connection goes.
//
// A Nodes is safe for concurrent use; Run is its only goroutine, owned by
// the context the host passes.
type Nodes struct {
	c        *Client
	id, addr string
	ttl      time.Duration
	interval time.Duration
	draining atomic.Bool
}

// Nodes returns this node's handle on the registry of nodes.
func (c *Client) Nodes(cfg NodesConfig) (*Nodes, error) {
	if cfg.TTL < 0 || cfg.Interval < 0 {
		return nil, errors.New("redis: NodesConfig has a negative TTL or Interval")
	}
	ttl := cmp.Or(cfg.TTL, DefaultNodeTTL)
	interval := cmp.Or(cfg.Interval, ttl/3)
	if interval >= ttl {
		return nil, fmt.Errorf("redis: NodesConfig.Interval %s must be shorter than the TTL %s", interval, ttl)
	}
	return &Nodes{c: c, id: cmp.Or(cfg.ID, "n-"+rand.Text()), addr: cfg.Addr, ttl: ttl, interval: interval}, nil
}

// ID returns this node's id.
func (n *Nodes) ID() string { return n.id }

func (n *Nodes) nodeKey(id string) string  { return n.c.key("nodes:node", id) }
func (n *Nodes) roomsKey(id string) string { return n.c.key("nodes:rooms", id) }
func (n *Nodes) live() string              { return n.c.key("nodes:live") }
func (n *Nodes) lease(account, room string) string {
	return n.c.key("nodes:room", account, room)
}
func (n *Nodes) nodePrefix() string  { return n.c.key("nodes:node") + ":" }
func (n *Nodes) roomsPrefix() string { return n.c.key("nodes:rooms") + ":" }

// nowMS is Redis's clock in milliseconds, in a script.
const nowMS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

var heartbeatScript = goredis.NewScript(nowMS + `
redis.call('HSET', KEYS[1], 'addr', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if ARGV[4] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
end
local kept = 0
for _, lk in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if redis.call('GET', lk) == ARGV[1] then
    redis.call('PEXPIRE', lk, ARGV[2])
    kept = kept + 1
  else
    redis.call('SREM', KEYS[3], lk)
  end
end
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return kept`)

// Heartbeat registers the node as live for TTL and renews the leases of
// its rooms (forgetting those another node took over). Run calls it every
// Interval.
func (n *Nodes) Heartbeat(ctx context.Context) error {
	draining := "0"
	if n.draining.Load() {
		draining = "1"
	}
	err := heartbeatScript.Run(ctx, n.c.rdb, []string{n.nodeKey(n.id), n.live(), n.roomsKey(n.id)},
		n.id, n.ttl.Milliseconds(), n.addr, draining).Err()
	return wrap("nodes.Heartbeat", err)
}

// Run heartbeats at once and then every Interval until ctx ends; a failed
// heartbeat is logged and tried at the next tick. When ctx ends it leaves
// the registry (Leave), so the node's rooms are free at once, and returns
// ctx's error.
func (n *Nodes) Run(ctx context.Context) error {
	t := time.NewTicker(n.interval)
	defer t.Stop()
	for {
		if err := n.Heartbeat(ctx); err != nil && ctx.Err() == nil {
			n.c.log.Warn("redis Nodes: heartbeat failed", "node", n.id, "err", err)
		}
		select {
		case <-ctx.Done():
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.c.cfg.DialTimeout+n.c.cfg.ReadTimeout)
			defer cancel()
			if err := n.Leave(lctx); err != nil {
				n.c.log.Warn("redis Nodes: leaving the registry", "node", n.id, "err", err)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

var leaveScript = goredis.NewScript(`
for _, lk in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if redis.call('GET', lk) == ARGV[1] then
    redis.call('DEL', lk)
  end
end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1`)

// Leave removes the node from the registry and releases every room it
// holds. A later Heartbeat registers it again.
func (n *Nodes) Leave(ctx context.Context) error {
	err := leaveScript.Run(ctx, n.c.rdb, []string{n.nodeKey(n.id), n.live(), n.roomsKey(n.id)}, n.id).Err()
	return wrap("nodes.Leave", err)
}

// placeScript: KEYS lease, live set; ARGV ttl, node key prefix, rooms set
// prefix. Answers {id, addr} of the room's node, or nil when no node lives.
var placeScript = goredis.NewScript(nowMS + `
local cur = redis.call('GET', KEYS[1])
if cur and redis.call('EXISTS', ARGV[2] .. cur) == 1 then
  return {cur, redis.call('HGET', ARGV[2] .. cur, 'addr')}
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('DEL', ARGV[3] .. id)
end
local best, load
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('EXISTS', ARGV[2] .. id) == 1 then
    local l = redis.call('SCARD', ARGV[3] .. id)
    if not best or l < load then
      best, load = id, l
    end
  end
end
if not best then
  return false
end
redis.call('SET', KEYS[1], best, 'PX', ARGV[1])
redis.call('SADD', ARGV[3] .. best, KEYS[1])
redis.call('PEXPIRE', ARGV[3] .. best, ARGV[1])
return {best, redis.call('HGET', ARGV[2] .. best, 'addr')}`)

// Place returns the node that hosts room of account: the live node that
// holds its lease, or else the live node with the fewest rooms, which gets
// the lease. ErrNoLiveNode if no node is live.
func (n *Nodes) Place(ctx context.Context, account, room string) (Node, error) {
	res, err := placeScript.Run(ctx, n.c.rdb, []string{n.lease(account, room), n.live()},
		n.ttl.Milliseconds(), n.nodePrefix(), n.roomsPrefix()).StringSlice()
	if errors.Is(err, goredis.Nil) {
		return Node{}, ErrNoLiveNode
	}
	if err != nil {
		return Node{}, wrap("nodes.Place", err)
	}
	return Node{ID: res[0], Addr: res[1]}, nil
}

var holderScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and redis.call('EXISTS', ARGV[1] .. cur) == 1 then
  return {cur, redis.call('HGET', ARGV[1] .. cur, 'addr')}
end
return false`)

// Holder returns the live node that holds room's lease, if any; it never
// places the room.
func (n *Nodes) Holder(ctx context.Context, account, room string) (Node, bool, error) {
	res, err := holderScript.Run(ctx, n.c.rdb, []string{n.lease(account, room)}, n.nodePrefix()).StringSlice()
	if errors.Is(err, goredis.Nil) {
		return Node{}, false, nil
	}
	if err != nil {
		return Node{}, false, wrap("nodes.Holder", err)
	}
	return Node{ID: res[0], Addr: res[1]}, true, nil
}

var releaseRoomScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
redis.call('SREM', KEYS[2], KEYS[1])
return 1`)

// Release gives up room's lease if this node holds it (the room ended
// here); a lease of another node is left alone.
func (n *Nodes) Release(ctx context.Context, account, room string) error {
	err := releaseRoomScript.Run(ctx, n.c.rdb, []string{n.lease(account, room), n.roomsKey(n.id)}, n.id).Err()
	return wrap("nodes.Release", err)
}

var liveScript = goredis.NewScript(nowMS + `
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do
  if redis.call('EXISTS', ARGV[1] .. id) == 1 then
    table.insert(out, {id, redis.call('HGET', ARGV[1] .. id, 'addr'), redis.call('SCARD', ARGV[2] .. id)})
  end
end
return out`)

// Live returns the live nodes with their loads.
func (n *Nodes) Live(ctx context.Context) ([]Node, error) {
	res, err := liveScript.Run(ctx, n.c.rdb, []string{n.live()}, n.nodePrefix(), n.roomsPrefix()).Slice()
	if err != nil {
		return nil, wrap("nodes.Live", err)
	}
	out := make([]Node, 0, len(res))
	for _, row := range res {
		f, ok := row.([]any)
		if !ok || len(f) != 3 {
			return nil, errors.New("redis: nodes.Live: unexpected answer")
		}
		id, _ := f[0].(string)
		addr, _ := f[1].(string)
		rooms, _ := f[2].(int64)
		out = append(out, Node{ID: id, Addr: addr, Rooms: int(rooms)})
	}
	return out, nil
}

// Drain takes this node out of placement: from its next heartbeat (Drain
// sends one) Place puts no new room on it, while the rooms and identities
// it holds stay its own (Holder still answers with it, and its heartbeats
// keep renewing their leases) until they end. It cannot be undone.
func (n *Nodes) Drain(ctx context.Context) error {
	n.draining.Store(true)
	return n.Heartbeat(ctx)
}

var claimLeaseScript = goredis.NewScript(nowMS + `
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] and redis.call('EXISTS', ARGV[3] .. cur) == 1 then
  return {cur, redis.call('HGET', ARGV[3] .. cur, 'addr')}
end
redis.call('HSET', KEYS[3], 'addr', ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
if ARGV[5] ~= '1' then
  redis.call('ZADD', KEYS[4], now + tonumber(ARGV[2]), ARGV[1])
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return {ARGV[1], ARGV[4]}`)

// Claim returns the live node that holds the lease of room (any key: a
// room, an identity's home), taking it for this node when no live node
// holds it. Taking it, or finding it already this node's, renews the lease
// and this node's own record, as a heartbeat does (so a lease taken right
// after Redis lost everything names a node the others see as live).
// Like Place, it is one script: two nodes claiming at once get one answer.
func (n *Nodes) Claim(ctx context.Context, account, room string) (Node, error) {
	draining := "0"
	if n.draining.Load() {
		draining = "1"
	}
	res, err := claimLeaseScript.Run(ctx, n.c.rdb, []string{n.lease(account, room), n.roomsKey(n.id), n.nodeKey(n.id), n.live()},
		n.id, n.ttl.Milliseconds(), n.nodePrefix(), n.addr, draining).StringSlice()
	if err != nil {
		return Node{}, wrap("nodes.Claim", err)
	}
	return Node{ID: res[0], Addr: res[1]}, nil
}

// Cluster is Nodes as package calling's Cluster (calling.Config.Cluster):
// keys are leases as Place, Claim, Holder and Release treat rooms, and a
// node's address is the URL of its signaling endpoint (NodesConfig.Addr).
// Place falls back to Claim when no node is live yet (this node's first
// heartbeat has not run). It is safe for concurrent use.
type Cluster struct{ n *Nodes }

// Cluster returns n as calling's Cluster.
func (n *Nodes) Cluster() *Cluster { return &Cluster{n} }

// NodeID is this node's id.
func (c *Cluster) NodeID() string { return c.n.id }

// Place is Nodes.Place, or Claim when no node is live.
func (c *Cluster) Place(ctx context.Context, account, key string) (id, addr string, err error) {
	node, err := c.n.Place(ctx, account, key)
	if errors.Is(err, ErrNoLiveNode) && !c.n.draining.Load() {
		node, err = c.n.Claim(ctx, account, key)
	}
	return node.ID, node.Addr, err
}

// Claim is Nodes.Claim.
func (c *Cluster) Claim(ctx context.Context, account, key string) (id, addr string, err error) {
	node, err := c.n.Claim(ctx, account, key)
	return node.ID, node.Addr, err
}

// Holder is Nodes.Holder; id is "" when no live node holds key.
func (c *Cluster) Holder(ctx context.Context, account, key string) (id, addr string, err error) {
	node, _, err := c.n.Holder(ctx, account, key)
	return node.ID, node.Addr, err
}

// Release is Nodes.Release.
func (c *Cluster) Release(ctx context.Context, account, key string) error {
	return c.n.Release(ctx, account, key)
}
