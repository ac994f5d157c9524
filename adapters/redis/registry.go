package redis

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/internal/clock"
	"github.com/switchboard-rtc/switchboard/push"
)

// RegistryConfig configures Client.Registry. The zero value works.
type RegistryConfig struct {
	// MaxDevicesPerIdentity bounds one identity's devices. Default
	// push.DefaultMaxDevicesPerIdentity (10).
	MaxDevicesPerIdentity int
	// MaxDevices bounds the registry as a whole. Default
	// push.DefaultMaxDevices (100,000).
	MaxDevices int
	// Clock stamps CreatedAt. Default: the real clock.
	Clock Clock
}

// Registry is a push.Registry in Redis, shared by every node given the same
// prefix, with MemoryRegistry's behaviour and limits. A device is a hash
// (<prefix>push:dev:<id>); an identity's devices a list of ids, oldest
// first (<prefix>push:ids:<account>:<identity>); a push token maps to its
// device under the SHA-256 of the token (<prefix>push:tok:<platform>:<hash>),
// so the key does not spell the token. Register, Devices and Remove are
// each one script, so a token moving from one identity to another, the
// limits and the count (<prefix>push:count) change together. A Registry is
// safe for concurrent use.
type Registry struct {
	c   *Client
	cfg RegistryConfig
}

var _ push.Registry = (*Registry)(nil)

// Registry returns the device registry of this Client's prefix.
func (c *Client) Registry(cfg RegistryConfig) *Registry {
	cfg.MaxDevicesPerIdentity = cmp.Or(cfg.MaxDevicesPerIdentity, push.DefaultMaxDevicesPerIdentity)
	cfg.MaxDevices = cmp.Or(cfg.MaxDevices, push.DefaultMaxDevices)
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return &Registry{c: c, cfg: cfg}
}

func (r *Registry) devPrefix() string { return r.c.key("push:dev") + ":" }
func (r *Registry) identityKey(account, identity string) string {
	return r.c.key("push:ids", account, identity)
}
func (r *Registry) tokenKey(p push.Platform, token string) string {
	sum := sha256.Sum256([]byte(token))
	return r.c.key("push:tok", string(p), hex.EncodeToString(sum[:]))
}

// registerScript: KEYS token, identity list, count; ARGV account,
// identity, platform, token, app, sandbox, new id, created, max per
// identity, max devices, device key prefix. Answers {"kept", id, created},
// {"new", id, created}, {"too_many"} or {"full"}.
var registerScript = goredis.NewScript(`
local dp = ARGV[11]
local old = redis.call('GET', KEYS[1])
if old and redis.call('EXISTS', dp .. old) == 0 then
  old = nil
end
if old then
  local owner = redis.call('HMGET', dp .. old, 'account', 'identity')
  if owner[1] == ARGV[1] and owner[2] == ARGV[2] then
    redis.call('HSET', dp .. old, 'app', ARGV[5], 'sandbox', ARGV[6])
    return {'kept', old, redis.call('HGET', dp .. old, 'created')}
  end
end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[9]) then
  return {'too_many'}
end
if old then
  local ik = redis.call('HGET', dp .. old, 'ikey')
  redis.call('LREM', ik, 0, old)
  redis.call('DEL', dp .. old)
else
  if tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[10]) then
    return {'full'}
  end
  redis.call('INCR', KEYS[3])
end
redis.call('HSET', dp .. ARGV[7], 'account', ARGV[1], 'identity', ARGV[2], 'platform', ARGV[3], 'token', ARGV[4],
  'app', ARGV[5], 'sandbox', ARGV[6], 'created', ARGV[8], 'tkey', KEYS[1], 'ikey', KEYS[2])
redis.call('SET', KEYS[1], ARGV[7])
redis.call('RPUSH', KEYS[2], ARGV[7])
return {'new', ARGV[7], ARGV[8]}`)

// Register implements push.Registry.
func (r *Registry) Register(ctx context.Context, d push.Device) (push.Device, error) {
	d, err := d.Validate()
	if err != nil {
		return push.Device{}, err
	}
	sandbox := "0"
	if d.Sandbox {
		sandbox = "1"
	}
	id := "d-" + rand.Text()
	created := r.cfg.Clock.Now().UTC().Format(time.RFC3339Nano)
	res, err := registerScript.Run(ctx, r.c.rdb,
		[]string{r.tokenKey(d.Platform, d.Token), r.identityKey(d.Account, d.Identity), r.c.key("push:count")},
		d.Account, d.Identity, string(d.Platform), d.Token, d.App, sandbox, id, created,
		r.cfg.MaxDevicesPerIdentity, r.cfg.MaxDevices, r.devPrefix()).StringSlice()
	if err != nil {
		return push.Device{}, wrap("push.Register", err)
	}
	switch res[0] {
	case "too_many":
		return push.Device{}, push.ErrTooManyDevices
	case "full":
		return push.Device{}, push.ErrRegistryFull
	}
	if len(res) != 3 {
		return push.Device{}, fmt.Errorf("redis: push.Register: unexpected answer %q", res)
	}
	d.ID = res[1]
	if d.CreatedAt, err = time.Parse(time.RFC3339Nano, res[2]); err != nil {
		return push.Device{}, fmt.Errorf("redis: push.Register: stored time: %w", err)
	}
	return d, nil
}

// devicesScript: KEYS identity list; ARGV device key prefix. Answers one
// {id, platform, token, app, sandbox, created} per device, oldest first.
var devicesScript = goredis.NewScript(`
local out = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local f = redis.call('HMGET', ARGV[1] .. id, 'platform', 'token', 'app', 'sandbox', 'created')
  if f[1] then
    table.insert(out, {id, f[1], f[2], f[3], f[4], f[5]})
  end
end
return out`)

// Devices implements push.Registry.
func (r *Registry) Devices(ctx context.Context, account, identity string) ([]push.Device, error) {
	res, err := devicesScript.Run(ctx, r.c.rdb, []string{r.identityKey(account, identity)}, r.devPrefix()).Slice()
	if err != nil {
		return nil, wrap("push.Devices", err)
	}
	out := make([]push.Device, 0, len(res))
	for _, row := range res {
		f, ok := row.([]any)
		if !ok || len(f) != 6 {
			return nil, errors.New("redis: push.Devices: unexpected answer")
		}
		s := make([]string, 6)
		for i, v := range f {
			s[i], _ = v.(string)
		}
		created, err := time.Parse(time.RFC3339Nano, s[5])
		if err != nil {
			return nil, fmt.Errorf("redis: push.Devices: stored time: %w", err)
		}
		out = append(out, push.Device{ID: s[0], Account: account, Identity: identity, Platform: push.Platform(s[1]),
			Token: s[2], App: s[3], Sandbox: s[4] == "1", CreatedAt: created})
	}
	return out, nil
}

// removeScript: KEYS device, count; ARGV account, identity, id.
var removeScript = goredis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'account', 'identity', 'tkey', 'ikey')
if f[1] ~= ARGV[1] or f[2] ~= ARGV[2] then
  return 0
end
redis.call('DEL', KEYS[1])
if redis.call('GET', f[3]) == ARGV[3] then
  redis.call('DEL', f[3])
end
redis.call('LREM', f[4], 0, ARGV[3])
redis.call('DECR', KEYS[2])
return 1`)

// Remove implements push.Registry.
func (r *Registry) Remove(ctx context.Context, account, identity, id string) error {
	n, err := removeScript.Run(ctx, r.c.rdb, []string{r.c.key("push:dev", id), r.c.key("push:count")}, account, identity, id).Int()
	if err != nil {
		return wrap("push.Remove", err)
	}
	if n == 0 {
		return push.ErrDeviceNotFound
	}
	return nil
}
