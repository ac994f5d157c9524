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
	clock   Clock

	mu      sync.Mutex
	buckets map[string]*failBucket
}

type failBucket struct {
	count int
	reset time.Time
}

func newFailureLimiter(max int, window time.Duration, clock Clock) *failureLimiter {
	return &failureLimiter{max: max, window: window, maxKeys: 100_000, clock: clock, buckets: make(map[string]*failBucket)}
}

// blocked reports whether key has used up its failures, and for how long.
func (l *failureLimiter) blocked(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return false, 0
	}
	now := l.clock.Now()
	if !now.Before(b.reset) {
		delete(l.buckets, key)
		return false, 0
	}
	if b.count >= l.max {
		return true, b.reset.Sub(now)
	}
	return false, 0
}

// fail records one failure of key and returns how many failures key has in
// its current window (this one included) and how long that window lasts.
func (l *failureLimiter) fail(key string) (int, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key)
	b.count++
	return b.count, b.reset.Sub(l.clock.Now())
}

// block uses up key's failures for the rest of its window (a new window if
// none is running) and returns how long it stays blocked.
func (l *failureLimiter) block(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key)
	b.count = max(b.count, l.max)
	return b.reset.Sub(l.clock.Now())
}

// bucket returns key's running window, starting one if needed. l.mu is held.
func (l *failureLimiter) bucket(key string) *failBucket {
	now := l.clock.Now()
	b, ok := l.buckets[key]
	if !ok || !now.Before(b.reset) {
		if len(l.buckets) >= l.maxKeys {
			l.sweep(now)
		}
		b = &failBucket{reset: now.Add(l.window)}
		l.buckets[key] = b
	}
	return b
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

// failureLimits is the policy the token endpoint and Middleware share for
// client authentication, built so that no stranger can lock a tenant out:
//
//   - An address with MaxFailures failed attempts in a window is refused
//     (429) until the window ends, whatever it sends: it learns nothing more.
//   - A client id counts only failed attempts. A correct secret from an
//     address that is not blocked always succeeds, however many failures the
//     id has. Once the id has had MaxFailures failures in its window, each
//     further failed attempt for it blocks the failing address at once for
//     a whole window, so an attacker spread over many addresses gets one guess
//     per address per window.
type failureLimits struct{ byAddr, byClient *failureLimiter }

func newFailureLimits(maxFailures int, window time.Duration, clock Clock) failureLimits {
	return failureLimits{
		byAddr:   newFailureLimiter(maxFailures, window, clock),
		byClient: newFailureLimiter(maxFailures, window, clock),
	}
}

// addrBlocked reports whether addr is refused, and for how long.
func (l failureLimits) addrBlocked(addr string) (bool, time.Duration) {
	return l.byAddr.blocked(addr)
}

// failed records a failed attempt of id from addr. It reports whether the
// answer is 429 rather than 401, and the Retry-After.
func (l failureLimits) failed(addr, id string) (limited bool, wait time.Duration) {
	l.byAddr.fail(addr)
	if n, _ := l.byClient.fail(id); n > l.byClient.max {
		return true, l.byAddr.block(addr)
	}
	return false, 0
}
