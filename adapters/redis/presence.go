package redis

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultPresenceTTL is PresenceConfig.TTL's default.
const DefaultPresenceTTL = time.Minute

// PresenceConfig configures Client.Presence. The zero value works.
type PresenceConfig struct {
	// TTL is the lifetime of a busy mark in Redis, a safety net: if the
	// node that holds a call dies without releasing its marks, its
	// identities are free again at most TTL later. While the node lives,
	// Run renews the marks it claimed every TTL/3, so calls may last
	// longer than TTL. Default DefaultPresenceTTL (one minute).
	TTL time.Duration
}

// Presence holds calling's busy marks in Redis, so that an identity in a
// call on one node is busy for a call placed on any other (it has the
// method set of calling.Presence). A mark is the key
// <prefix>calling:busy:<account>:<identity> holding the call id: Claim is
// one script (set it if absent, or renew it if it already holds this
// call), Release a compare-and-delete script (only the holding call
// removes it), Holder a GET. Each answer is one round trip, which the
// Server's call lock needs.
//
// Every mark has a lifetime (PresenceConfig.TTL) as a safety net against a
// node that dies holding marks. The host must run Run while the node
// serves calls: it renews the marks this Presence claimed and has not
// released. Without Run, a call longer than the TTL loses its marks and
// the identities look free (a warning is logged at the first Claim). A
// Presence is safe for concurrent use.
type Presence struct {
	c   *Client
	ttl time.Duration

	mu      sync.Mutex
	held    map[string]string // key → call id, the marks to renew
	running atomic.Bool
	warned  atomic.Bool
}

// Presence returns the busy marks of this Client's prefix.
func (c *Client) Presence(cfg PresenceConfig) *Presence {
	return &Presence{c: c, ttl: cmp.Or(cfg.TTL, DefaultPresenceTTL), held: map[string]string{}}
}

func (p *Presence) key(account, identity string) string {
	return p.c.key("calling:busy", account, identity)
}

var claimScript = goredis.NewScript(`
local h = redis.call('GET', KEYS[1])
if not h then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if h == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`)

// Claim marks identity busy with callID unless another call holds it, and
// reports whether callID holds it now.
func (p *Presence) Claim(ctx context.Context, account, identity, callID string) (bool, error) {
	if !p.running.Load() && p.warned.CompareAndSwap(false, true) {
		p.c.log.Warn("redis Presence: Run is not running, so busy marks lapse after their TTL", "ttl", p.ttl)
	}
	k := p.key(account, identity)
	n, err := claimScript.Run(ctx, p.c.rdb, []string{k}, callID, p.ttl.Milliseconds()).Int()
	if err != nil {
		return false, wrap("calling.Claim", err)
	}
	if n == 1 {
		p.mu.Lock()
		p.held[k] = callID
		p.mu.Unlock()
	}
	return n == 1, nil
}

var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// Release removes identity's mark if callID holds it.
func (p *Presence) Release(ctx context.Context, account, identity, callID string) error {
	k := p.key(account, identity)
	p.mu.Lock()
	if p.held[k] == callID {
		delete(p.held, k)
	}
	p.mu.Unlock()
	return wrap("calling.Release", releaseScript.Run(ctx, p.c.rdb, []string{k}, callID).Err())
}

// Holder returns the call that holds identity's mark ("" for none).
func (p *Presence) Holder(ctx context.Context, account, identity string) (string, error) {
	v, err := p.c.rdb.Get(ctx, p.key(account, identity)).Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	return v, wrap("calling.Holder", err)
}

// renewScript extends every mark of KEYS that still holds its call id
// (ARGV[i]) to ARGV[#ARGV] ms, and answers 1 or 0 for each.
var renewScript = goredis.NewScript(`
local ttl = ARGV[#ARGV]
local out = {}
for i, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[i] then
    out[i] = redis.call('PEXPIRE', k, ttl)
  else
    out[i] = 0
  end
end
return out`)

// Renew extends the lifetime of every mark this Presence holds, and
// forgets those it no longer holds (released elsewhere, or lapsed): one
// script per 500 marks. Run calls it every TTL/3; it returns the first
// error.
func (p *Presence) Renew(ctx context.Context) error {
	p.mu.Lock()
	keys := make([]string, 0, len(p.held))
	ids := make([]any, 0, len(p.held))
	for k, id := range p.held {
		keys = append(keys, k)
		ids = append(ids, id)
	}
	p.mu.Unlock()
	for len(keys) > 0 {
		n := min(len(keys), 500)
		args := append(ids[:n:n], p.ttl.Milliseconds())
		res, err := renewScript.Run(ctx, p.c.rdb, keys[:n], args...).Int64Slice()
		if err != nil {
			return wrap("calling.Renew", err)
		}
		p.mu.Lock()
		for i, ok := range res {
			if ok == 0 && p.held[keys[i]] == ids[i] {
				delete(p.held, keys[i]) // lost: someone else holds it, or it lapsed
			}
		}
		p.mu.Unlock()
		keys, ids = keys[n:], ids[n:]
	}
	return nil
}

// Held returns how many marks this Presence renews.
func (p *Presence) Held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.held)
}

// Run renews the marks every TTL/3 until ctx ends; a failed renewal is
// logged and tried again at the next tick. It returns ctx's error.
func (p *Presence) Run(ctx context.Context) error {
	p.running.Store(true)
	defer p.running.Store(false)
	t := time.NewTicker(p.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := p.Renew(ctx); err != nil && ctx.Err() == nil {
				p.c.log.Warn("redis Presence: renewing busy marks", "err", err)
			}
		}
	}
}
