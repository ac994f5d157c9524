package redis

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/internal/clock"
)

// Clock is the time source of this package's expiries: the Now of the
// node, from which the lifetime of a Redis key is computed. Nil means the
// real clock.
type Clock interface {
	Now() time.Time
}

// ReplayCacheConfig configures Client.ReplayCache. The zero value works.
type ReplayCacheConfig struct {
	// Clock turns a token's expiry into the key's lifetime. Default: the
	// real clock.
	Clock Clock
}

// ReplayCache is an auth.ReplayCache in Redis, shared by every node given
// the same prefix: one key per entry (<prefix>auth:replay:<key>), set with
// a lifetime in milliseconds (PX) that ends when the token expires, so
// Redis forgets it then by itself. Revoke sets "r", keeping the later of
// the old and the new lifetime (a script); Revoked reads it; Use is one
// SET NX PX, which only the first caller wins. Unlike MemoryReplayCache it
// has no bound of its own: Redis's memory is the bound (an entry is under
// 100 bytes, and lives no longer than the tokens it names). It is safe for
// concurrent use.
type ReplayCache struct {
	c     *Client
	clock Clock
}

var _ auth.ReplayCache = (*ReplayCache)(nil)

// ReplayCache returns the auth.ReplayCache of this Client's prefix.
func (c *Client) ReplayCache(cfg ReplayCacheConfig) *ReplayCache {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return &ReplayCache{c: c, clock: cfg.Clock}
}

func (r *ReplayCache) key(k string) string { return r.c.key("auth:replay", k) }

// lifetime returns the milliseconds from now until until, rounded up so an
// entry never lapses before its time; 0 if until has passed.
func (r *ReplayCache) lifetime(until time.Time) int64 {
	d := until.Sub(r.clock.Now())
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

var revokeScript = goredis.NewScript(`
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], 'r', 'PX', ARGV[1])
else
  redis.call('SET', KEYS[1], 'r', 'KEEPTTL')
end
return 1`)

// Revoke implements auth.ReplayCache. A time already passed stores nothing.
func (r *ReplayCache) Revoke(ctx context.Context, key string, until time.Time) error {
	ms := r.lifetime(until)
	if ms == 0 {
		return nil
	}
	return wrap("auth.Revoke", revokeScript.Run(ctx, r.c.rdb, []string{r.key(key)}, ms).Err())
}

// Revoked implements auth.ReplayCache.
func (r *ReplayCache) Revoked(ctx context.Context, key string) (bool, error) {
	v, err := r.c.rdb.Get(ctx, r.key(key)).Result()
	if errors.Is(err, goredis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, wrap("auth.Revoked", err)
	}
	return v == "r", nil
}

// Use implements auth.ReplayCache with SET NX PX. A time already passed
// stores nothing and reports a first use, as MemoryReplayCache does (the
// Verifier refuses an expired token before it asks).
func (r *ReplayCache) Use(ctx context.Context, jti string, until time.Time) (bool, error) {
	ms := r.lifetime(until)
	if ms == 0 {
		return true, nil
	}
	ok, err := r.c.rdb.SetNX(ctx, r.key(jti), "u", time.Duration(ms)*time.Millisecond).Result()
	if err != nil {
		return false, wrap("auth.Use", err)
	}
	return ok, nil
}
