package redis_test

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/adapters/redis"
	"github.com/switchboard-rtc/switchboard/internal/redistest"
)

// TestMain quiets the client library's own logger, which reports every
// refused dial of the fault tests on stderr (a host may do the same with
// goredis.SetLogger, or keep the messages).
func TestMain(m *testing.M) {
	goredis.SetLogger(quiet{})
	os.Exit(m.Run())
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// redisAddr returns the address of the Redis the tests use, from
// SWITCHBOARD_REDIS_ADDR. Without it the test is skipped, unless
// SWITCHBOARD_REQUIRE_REDIS=1 (as CI sets), which makes it fail.
func redisAddr(t testing.TB) string { return redistest.Addr(t) }

// testPrefix returns a key prefix no other test uses, and deletes every key
// under it when the test ends.
func testPrefix(t testing.TB, addr string) string {
	t.Helper()
	prefix := "sbtest:" + strings.ToLower(rand.Text()[:12]) + ":"
	t.Cleanup(func() {
		c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true})
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleaning up %s*: %v", prefix, err)
			return
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("cleaning up %s*: %v", prefix, err)
			}
		}
	})
	return prefix
}

// newClient returns a Client on the test Redis with cfg's other fields.
func newClient(t testing.TB, cfg redis.Config) *redis.Client {
	t.Helper()
	c, err := redis.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// clients returns a constructor of Clients on one fresh prefix of the test
// Redis: each call is another node's connection to the same data.
func clients(t testing.TB) func() *redis.Client {
	addr := redisAddr(t)
	prefix := testPrefix(t, addr)
	return func() *redis.Client { return newClient(t, redis.Config{Addr: addr, Prefix: prefix}) }
}
