package redis_test

import (
	"context"
	"log"
	"os"
	"os/signal"

	"github.com/switchboard-rtc/switchboard/adapters/redis"
	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// A node of a deployment gives every package its Redis implementation in
// place of the in-memory default. Every node runs the same code against the
// same Redis and prefix.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c, err := redis.New(redis.Config{Addr: "127.0.0.1:6379", Prefix: "switchboard:"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	manager, err := rooms.NewManager(rooms.Config{Store: c.Store(), Bus: c.Bus(redis.BusConfig{})})
	if err != nil {
		log.Fatal(err)
	}
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: c.ReplayCache(redis.ReplayCacheConfig{})})
	if err != nil {
		log.Fatal(err)
	}
	devices := c.Registry(redis.RegistryConfig{})
	presence := c.Presence(redis.PresenceConfig{})
	go presence.Run(ctx) // renews this node's busy marks

	// calling.New(calling.Config{Rooms: manager, Verifier: verifier, Presence: presence}),
	// push.New(push.Config{Registry: devices, ...}), and so on.
	_, _, _ = manager, verifier, devices
}

// Nodes registers this node and places rooms on the least-loaded live one.
// The relay that routes a participant to the room's node is not built yet;
// this is how it will ask where a room lives.
func ExampleNodes() {
	ctx := context.Background()
	c, err := redis.New(redis.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	nodes, err := c.Nodes(redis.NodesConfig{ID: "node-a", Addr: "10.0.0.11:7880"})
	if err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go nodes.Run(runCtx) // heartbeats; renews this node's room leases; leaves when stopped

	where, err := nodes.Place(ctx, "acct-1", "standup")
	if err != nil {
		log.Fatal(err)
	}
	if where.ID != nodes.ID() {
		log.Printf("room standup lives on %s (%s)", where.ID, where.Addr)
	}
}
