package main

import (
	"sync"
	"time"
)

// addrLimiter allows each key n events per fixed window. It remembers at
// most max keys; windows that ended are swept when it is full. It is safe
// for concurrent use.
type addrLimiter struct {
	mu     sync.Mutex
	n, max int
	window time.Duration
	now    func() time.Time
	seen   map[string]*addrWindow
}

type addrWindow struct {
	start time.Time
	count int
}

func newAddrLimiter(n int, window time.Duration, max int, now func() time.Time) *addrLimiter {
	return &addrLimiter{n: n, max: max, window: window, now: now, seen: map[string]*addrWindow{}}
}

// allow counts one event for key and reports whether it is within the
// limit, or else how long until the key's window ends.
func (l *addrLimiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.seen[key]
	if w != nil && now.Sub(w.start) >= l.window {
		w.start, w.count = now, 0
	}
	if w == nil {
		if len(l.seen) >= l.max {
			for k, o := range l.seen {
				if now.Sub(o.start) >= l.window {
					delete(l.seen, k)
				}
			}
			if len(l.seen) >= l.max {
				return false, l.window
			}
		}
		w = &addrWindow{start: now}
		l.seen[key] = w
	}
	if w.count >= l.n {
		return false, w.start.Add(l.window).Sub(now)
	}
	w.count++
	return true, 0
}
