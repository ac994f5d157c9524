package auth

import (
	"sync"
	"time"
)

// failureLimiter counts failed attempts per key (client id, remote address)
// in fixed windows. It is safe for concurrent use and bounded in memory.
type failureLimiter struct {
	max     int
	window  time.Duration
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*failBucket
}

type failBucket struct {
	count int
	reset time.Time
}

func newFailureLimiter(max int, window time.Duration, now func() time.Time) *failureLimiter {
	return &failureLimiter{max: max, window: window, maxKeys: 100_000, now: now, buckets: make(map[string]*failBucket)}
}

// blocked reports whether key has used up its failures, and for how long.
func (l *failureLimiter) blocked(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return false, 0
	}
	now := l.now()
	if !now.Before(b.reset) {
		delete(l.buckets, key)
		return false, 0
	}
	if b.count >= l.max {
		return true, b.reset.Sub(now)
	}
	return false, 0
}

// fail records one failure of key.
func (l *failureLimiter) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[key]
	if !ok || !now.Before(b.reset) {
		if len(l.buckets) >= l.maxKeys {
			l.sweep(now)
		}
		b = &failBucket{reset: now.Add(l.window)}
		l.buckets[key] = b
	}
	b.count++
}

// sweep drops finished windows; if the map is still full, a random half of
// it goes (Go's map order is random, so no attacker can pick which).
func (l *failureLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if !now.Before(b.reset) {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.maxKeys/2 {
			break
		}
		delete(l.buckets, k)
	}
}
