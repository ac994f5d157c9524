package redis_test

import (
	"context"
	"log"
	"os"
	"os/signal"

	"github.com/switchboard-rtc/switchboard/adapters/redis"
	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/push"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// A node of a deployment gives every package its Redis implementation in
// place of the in-memory default (README.md, "More than one machine").
// Every node runs the same code against the same Redis and prefix, with
// the same signing key.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := node(ctx); err != nil {
		log.Fatal(err)
	}
}

func node(ctx context.Context) error {
	key, err := auth.GenerateKey(auth.ES256) // on a real node: auth.ParsePrivateKeyPEM, the same key everywhere
	if err != nil {
		return err
	}
	keys, err := auth.NewKeySet(auth.KeySetConfig{Current: key})
	if err != nil {
		return err
	}
	notifiers := map[push.Platform]push.Notifier{} // adapters/apns, adapters/fcm
	clusterSecret := []byte(os.Getenv("SWITCHBOARD_CLUSTER_SECRET"))

	c, err := redis.New(redis.Config{Addr: "10.0.0.5:6379", Prefix: "switchboard:"}) // Password, TLS, timeouts: see redis.Config
	if err != nil {
		return err
	}
	defer c.Close()
	nodes, err := c.Nodes(redis.NodesConfig{ID: "node-a", Addr: "http://10.0.0.2:8080/v1/signal"})
	if err != nil {
		return err
	}
	go nodes.Run(ctx) // heartbeats: this node is live, its leases are renewed
	presence := c.Presence(redis.PresenceConfig{})
	go presence.Run(ctx) // renews the busy marks of this node's calls

	replay := c.ReplayCache(redis.ReplayCacheConfig{}) // revocations and single-use tokens, for every node
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: replay})
	if err != nil {
		return err
	}
	manager, err := rooms.NewManager(rooms.Config{Store: c.Store(), Bus: c.Bus(redis.BusConfig{})})
	if err != nil {
		return err
	}
	srv, err := calling.New(calling.Config{Rooms: manager, Verifier: verifier, Presence: presence,
		Cluster: nodes.Cluster(), ClusterSecret: clusterSecret}) // the same 32+ byte secret on every node
	if err != nil {
		return err
	}
	defer srv.Close()
	waker, err := push.New(push.Config{Registry: c.Registry(redis.RegistryConfig{}), Notifiers: notifiers})
	if err != nil {
		return err
	}
	defer waker.Close()
	// Mount srv, manager's rooms.Handler, push.NewHandler(...) as on one node.
	<-ctx.Done()
	return nil
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
