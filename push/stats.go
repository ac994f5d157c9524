package push

import "sync"

// Stats are the counters of a Waker since New (metrics); they only grow.
type Stats struct {
	// Outcomes counts every Outcome reported (the ones Config.OnOutcome
	// gets), by kind and platform; the platform is empty for an outcome
	// of a whole wake-up (no devices, expired before any send).
	Outcomes map[OutcomeKey]uint64
}

// OutcomeKey is a kind of outcome on a platform (Stats.Outcomes).
type OutcomeKey struct {
	Kind     OutcomeKind
	Platform Platform
}

// outcomeCounters are a Waker's counters.
type outcomeCounters struct {
	mu sync.Mutex
	n  map[OutcomeKey]uint64
}

func (c *outcomeCounters) count(o Outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[OutcomeKey]uint64{}
	}
	c.n[OutcomeKey{o.Kind, o.Platform}]++
}

// Stats returns the Waker's counters. Safe for concurrent use.
func (w *Waker) Stats() Stats {
	w.counters.mu.Lock()
	defer w.counters.mu.Unlock()
	s := Stats{Outcomes: make(map[OutcomeKey]uint64, len(w.counters.n))}
	for k, v := range w.counters.n {
		s.Outcomes[k] = v
	}
	return s
}
