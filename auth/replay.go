package auth

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// ReplayCache records revoked token ids and the ids of single-use tokens
// already presented. Entries are kept until the token they name expires.
// Implementations must be safe for concurrent use; adapters/redis provides
// one shared by every node.
//
// Revocations are kept under RevocationKey(account, jti), so that an admin
// of one account can revoke only that account's tokens; single-use marks
// under the bare jti.
type ReplayCache interface {
	// Revoke refuses key (RevocationKey) from now until it expires.
	Revoke(ctx context.Context, key string, until time.Time) error
	// Revoked reports whether key (RevocationKey) has been revoked.
	Revoked(ctx context.Context, key string) (bool, error)
	// Use records a use of jti and reports whether it is the first.
	Use(ctx context.Context, jti string, until time.Time) (first bool, err error)
}

var _ ReplayCache = (*MemoryReplayCache)(nil)

// RevocationKey is the key under which a ReplayCache keeps the revocation
// of token jti of account.
func RevocationKey(account, jti string) string { return account + "\x00" + jti }

// DefaultReplayEntries is MemoryReplayCache's default bound.
const DefaultReplayEntries = 100_000

// MemoryReplayCache is an in-memory, bounded ReplayCache. When it holds
// MaxEntries live entries it refuses new ones with ErrReplayCacheFull
// (failing closed) rather than forgetting a revocation. It is safe for
// concurrent use.
type MemoryReplayCache struct {
	max   int
	clock Clock

	mu      sync.Mutex
	entries map[string]*replayEntry
	byExp   expiryHeap
}

type replayEntry struct {
	jti     string
	until   time.Time
	revoked bool
	index   int
}

// MemoryReplayCacheConfig configures a MemoryReplayCache.
type MemoryReplayCacheConfig struct {
	// MaxEntries bounds the live entries. Default DefaultReplayEntries.
	MaxEntries int
	// Clock decides when an entry's token has expired. Default: the real clock.
	Clock Clock
}

// NewMemoryReplayCache returns an empty cache.
func NewMemoryReplayCache(cfg MemoryReplayCacheConfig) *MemoryReplayCache {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultReplayEntries
	}
	return &MemoryReplayCache{max: cfg.MaxEntries, clock: clockOr(cfg.Clock), entries: make(map[string]*replayEntry)}
}

// Len returns the number of live entries.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(c.clock.Now())
	return len(c.entries)
}

// Revoke implements ReplayCache.
func (c *MemoryReplayCache) Revoke(_ context.Context, jti string, until time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	c.expire(now)
	if e, ok := c.entries[jti]; ok {
		e.revoked = true
		if until.After(e.until) {
			e.until = until
			heap.Fix(&c.byExp, e.index)
		}
		return nil
	}
	return c.add(now, jti, until, true)
}

// Revoked implements ReplayCache.
func (c *MemoryReplayCache) Revoked(_ context.Context, jti string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[jti]
	return ok && e.revoked && c.clock.Now().Before(e.until), nil
}

// Use implements ReplayCache.
func (c *MemoryReplayCache) Use(_ context.Context, jti string, until time.Time) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	c.expire(now)
	if _, ok := c.entries[jti]; ok {
		return false, nil
	}
	if err := c.add(now, jti, until, false); err != nil {
		return false, err
	}
	return true, nil
}

func (c *MemoryReplayCache) add(now time.Time, jti string, until time.Time, revoked bool) error {
	if !now.Before(until) {
		return nil // already expired: nothing to remember
	}
	if len(c.entries) >= c.max {
		return ErrReplayCacheFull
	}
	e := &replayEntry{jti: jti, until: until, revoked: revoked}
	c.entries[jti] = e
	heap.Push(&c.byExp, e)
	return nil
}

// expire drops entries whose token has expired; c.mu must be held.
func (c *MemoryReplayCache) expire(now time.Time) {
	for len(c.byExp) > 0 && !now.Before(c.byExp[0].until) {
		e := heap.Pop(&c.byExp).(*replayEntry)
		delete(c.entries, e.jti)
	}
}

type expiryHeap []*replayEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *expiryHeap) Push(x any) {
	e := x.(*replayEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
