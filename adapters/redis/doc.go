// Package redis implements Switchboard's shared seams on Redis, so that
// several nodes behind a load balancer share one state:
//
//   - Store: rooms.Store (sessions and participants; Update and
//     UpdateMembership as WATCH/MULTI transactions);
//   - Bus: rooms.Bus (room events on Redis pub/sub);
//   - ReplayCache: auth.ReplayCache (revoked and single-use token ids,
//     expiring with their tokens);
//   - Presence: the method set of calling.Presence (busy marks of 1:1 calls,
//     cluster-wide);
//   - Registry: push.Registry (devices and their push tokens);
//   - Nodes: the registry of live nodes and the leases of rooms, identity
//     homes and calls (placement); Nodes.Cluster is calling.Cluster, with
//     which calling relays a connection to the node serving its room or
//     call (docs/cluster.md).
//
// All are built on one Client (New), which holds the connection pool and
// the key prefix; a host gives each node a Client on the same Redis and the
// same prefix, and passes the implementations where the in-memory defaults
// would go:
//
//	c, _ := redis.New(redis.Config{Addr: "10.0.0.5:6379", Prefix: "sb:"})
//	presence := c.Presence(redis.PresenceConfig{})
//	go presence.Run(ctx) // renews the busy marks of this node's calls
//	m, _ := rooms.NewManager(rooms.Config{Store: c.Store(), Bus: c.Bus(redis.BusConfig{})})
//	v, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: c.ReplayCache(redis.ReplayCacheConfig{})})
//	srv, _ := calling.New(calling.Config{Rooms: m, Verifier: v, Presence: presence})
//
// Each implementation behaves as the package's in-memory one: they pass the
// same conformance suites (rooms/roomstest, auth/authtest,
// calling/callingtest, push/pushtest).
//
// # Redis unavailable
//
// Every method fails within the Config's dial and read timeouts (500 ms by
// default, with one retry) with an error matching ErrUnavailable when Redis
// is stopped, hung or unreachable; the packages' REST APIs answer such an
// error with 503 store_unavailable, without importing this package (the
// error's Unavailable method says what it is). The same Client reconnects
// by itself when Redis returns. A Bus subscription that lost its
// connection ends, once Redis answers again, so its consumer resubscribes
// and resynchronises.
//
// # Keys
//
// Every key and the channel start with Config.Prefix; the parts of a key
// taken from requests (accounts, ids, identities, room names) are escaped
// so they cannot reach into another key or form a Redis Cluster hash tag.
// Nothing is written without a prefix. Records have no lifetime except
// where said: replay entries (the token's expiry), busy marks
// (PresenceConfig.TTL), nodes and room leases (NodesConfig.TTL).
//
// It needs Redis 6.0 or later (SET KEEPTTL) and is tested with 7.0. With
// Redis Cluster, the prefix must hold a hash tag ("{switchboard}:") so that
// every key is in one slot: transactions and scripts touch several keys.
//
// The client library (github.com/redis/go-redis/v9) reports refused dials
// through its own package logger (goredis.SetLogger), apart from
// Config.Logger.
package redis
