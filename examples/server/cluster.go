package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/switchboard-rtc/switchboard/adapters/redis"
	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/push"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// clusterConfig is the setting of a node of several (-redis, -node-*,
// SWITCHBOARD_CLUSTER_SECRET, SWITCHBOARD_REDIS_*).
type clusterConfig struct {
	// redisAddr is the Redis every node shares (host:port); "" = one node,
	// everything in memory.
	redisAddr string
	// redisPrefix starts every key, so deployments can share a Redis.
	redisPrefix string
	// nodeID names this node; default generated.
	nodeID string
	// nodeURL is where the other nodes reach this node's signaling
	// endpoint; default http://<-addr>/v1/signal.
	nodeURL string
	// secret authenticates the nodes to each other.
	secret string
	// redisUser and redisPassword authenticate to Redis.
	redisUser, redisPassword string
	// nodeTTL is how long a node counts as live after its last heartbeat,
	// and the lease of its rooms: a dead node's rooms are free after it.
	nodeTTL time.Duration
}

func clusterFlags(fs *flag.FlagSet, c *clusterConfig) {
	fs.StringVar(&c.redisAddr, "redis", "", "host:port of the Redis that the nodes of a cluster share (rooms, token revocations, busy marks, push devices, room placement); unset = one node, all in memory")
	fs.StringVar(&c.redisPrefix, "redis-prefix", redis.DefaultPrefix, "prefix of every Redis key, so several deployments can share one Redis")
	fs.StringVar(&c.nodeID, "node-id", "", "this node's name in the cluster (default: generated)")
	fs.DurationVar(&c.nodeTTL, "node-ttl", redis.DefaultNodeTTL, "how long a node counts as live after its last heartbeat (heartbeats every third of it); a dead node's rooms move to the others after it")
	fs.StringVar(&c.nodeURL, "node-url", "", "URL where the other nodes reach this node's signaling endpoint (default http://<-addr>/v1/signal; set it when -addr is 0.0.0.0 or behind NAT)")
}

func (c *clusterConfig) fromEnv(getenv func(string) string) {
	c.secret = getenv("SWITCHBOARD_CLUSTER_SECRET")
	c.redisUser, c.redisPassword = getenv("SWITCHBOARD_REDIS_USER"), getenv("SWITCHBOARD_REDIS_PASSWORD")
}

func (c clusterConfig) validate(keyFile string) error {
	if c.redisAddr == "" {
		if c.nodeID != "" || c.nodeURL != "" {
			return errors.New("-node-id and -node-url need -redis")
		}
		return nil
	}
	if c.nodeTTL < time.Second {
		return errors.New("-node-ttl must be at least 1s")
	}
	if len(c.secret) < 32 {
		return errors.New("-redis needs SWITCHBOARD_CLUSTER_SECRET of at least 32 bytes, the same on every node")
	}
	if keyFile == "" {
		return errors.New("-redis needs -key: every node must sign and check tokens with the same key")
	}
	return nil
}

// shared is the state the nodes of a deployment share: in memory for one
// node, on Redis for several.
type shared struct {
	store    rooms.Store
	bus      rooms.Bus
	replay   auth.ReplayCache
	presence calling.Presence
	registry push.Registry
	cluster  calling.Cluster // nil: one node
	nodes    *redis.Nodes    // nil: one node
	// ready checks that the shared state is reachable (/readyz).
	ready func(context.Context) error
	// stop ends the heartbeats and renewals and closes the connections.
	stop func()
}

func newShared(c clusterConfig, nodeURL string, logger *slog.Logger) (*shared, error) {
	if c.redisAddr == "" {
		return &shared{
			store: rooms.NewMemoryStore(), bus: rooms.NewMemoryBus(),
			replay:   auth.NewMemoryReplayCache(auth.MemoryReplayCacheConfig{}),
			presence: calling.NewMemoryPresence(), registry: push.NewMemoryRegistry(push.MemoryRegistryConfig{}),
			ready: func(context.Context) error { return nil }, stop: func() {},
		}, nil
	}
	rc, err := redis.New(redis.Config{Addr: c.redisAddr, Username: c.redisUser, Password: c.redisPassword, Prefix: c.redisPrefix, Logger: logger})
	if err != nil {
		return nil, err
	}
	nodes, err := rc.Nodes(redis.NodesConfig{ID: c.nodeID, Addr: nodeURL, TTL: c.nodeTTL})
	if err != nil {
		_ = rc.Close()
		return nil, err
	}
	// A process that reuses a node id holds nothing yet: drop what a
	// killed predecessor left, or its heartbeats would renew those leases.
	lctx, lcancel := context.WithTimeout(context.Background(), 2*time.Second)
	err = nodes.Leave(lctx)
	lcancel()
	if err != nil {
		logger.Warn("clearing this node id's leases at start", "err", err)
	}
	presence := rc.Presence(redis.PresenceConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = nodes.Run(ctx) }()    // heartbeats; leaves the registry at the end
	go func() { defer wg.Done(); _ = presence.Run(ctx) }() // renews the busy marks held here
	logger.Info("cluster node", "node", nodes.ID(), "url", nodeURL, "redis", c.redisAddr)
	return &shared{
		store: rc.Store(), bus: rc.Bus(redis.BusConfig{}), replay: rc.ReplayCache(redis.ReplayCacheConfig{}),
		presence: presence, registry: rc.Registry(redis.RegistryConfig{}),
		cluster: nodes.Cluster(), nodes: nodes,
		ready: rc.Ping,
		stop: func() {
			cancel()
			wg.Wait()
			_ = rc.Close()
		},
	}, nil
}

// clusterSecret is the secret calling needs, nil for one node.
func (s *shared) clusterSecret(c clusterConfig) []byte {
	if s.cluster == nil {
		return nil
	}
	return []byte(c.secret)
}

// describe says how the node shares its state, for the startup output.
func (s *shared) describe(c clusterConfig) string {
	if s.nodes == nil {
		return "one node (all state in memory)"
	}
	return fmt.Sprintf("node %s of a cluster on Redis %s", s.nodes.ID(), c.redisAddr)
}
