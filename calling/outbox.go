package calling

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"sync"
)

// DefaultOutboxLimit is the number of undelivered events a MemoryOutbox or
// a FileOutbox holds before it drops the oldest one.
const DefaultOutboxLimit = 10_000

// OutboxEvent is one event waiting for delivery.
type OutboxEvent struct {
	// Seq is set by Append: increasing, unique within one outbox.
	Seq uint64 `json:"seq"`
	// ID identifies the event to its receiver (the webhook-id header); it
	// stays the same on every attempt and across restarts.
	ID string `json:"id"`
	// Key orders delivery: events of one key (a call, a session) are
	// delivered one at a time, in Seq order; different keys concurrently.
	Key string `json:"key"`
	// Type is the event type (call.state, call.dtmf, participant).
	Type string `json:"type"`
	// Body is what is delivered.
	Body json.RawMessage `json:"body,omitempty"`

	// local carries an in-process value (a Go hook call) that only a
	// MemoryOutbox keeps; it is never serialised.
	local func(context.Context, Hooks)
}

// Outbox stores events until they are delivered. Append returns once the
// event is stored (as durably as the implementation is); a delivery loop
// reads events with Next and removes each with Ack once delivered, so
// every event is delivered at least once. An implementation on an external
// store (Redis, SQL) fits the same three methods. Implementations must be
// safe for concurrent use.
type Outbox interface {
	// Append stores e, assigns it the next sequence number and returns it.
	Append(ctx context.Context, e OutboxEvent) (seq uint64, err error)
	// Next returns at most max stored, unacknowledged events whose Seq is
	// above after, in Seq order. It does not block: none is an empty slice.
	Next(ctx context.Context, after uint64, max int) ([]OutboxEvent, error)
	// Ack removes the event seq (delivered, or given up on). Acknowledging
	// an unknown or already removed event is not an error.
	Ack(ctx context.Context, seq uint64) error
}

// MemoryOutboxConfig configures NewMemoryOutbox.
type MemoryOutboxConfig struct {
	// Limit is the number of undelivered events held. When an Append finds
	// it full, the oldest undelivered event is dropped, counted (Dropped)
	// and logged at warning level. Default DefaultOutboxLimit.
	Limit int
	// Logger. Default: discard.
	Logger *slog.Logger
}

// MemoryOutbox is an Outbox in memory: fast, bounded, and lost with the
// process. It is safe for concurrent use.
type MemoryOutbox struct {
	mu      sync.Mutex
	idx     pendingIndex
	limit   int
	dropped uint64
	log     *slog.Logger
}

var _ Outbox = (*MemoryOutbox)(nil)

// NewMemoryOutbox returns an empty MemoryOutbox. A negative Limit is an error.
func NewMemoryOutbox(cfg MemoryOutboxConfig) (*MemoryOutbox, error) {
	if cfg.Limit < 0 {
		return nil, errors.New("calling: MemoryOutboxConfig.Limit is negative")
	}
	if cfg.Limit == 0 {
		cfg.Limit = DefaultOutboxLimit
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &MemoryOutbox{limit: cfg.Limit, log: cfg.Logger, idx: pendingIndex{next: 1}}, nil
}

// Append implements Outbox; it never blocks.
func (m *MemoryOutbox) Append(_ context.Context, e OutboxEvent) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.idx.undelivered >= m.limit {
		old := m.idx.dropOldest()
		m.dropped++
		m.log.Warn("outbox full; oldest undelivered event dropped", "id", old.ID, "type", old.Type, "key", old.Key,
			"limit", m.limit, "dropped", m.dropped)
	}
	return m.idx.add(e), nil
}

// Next implements Outbox.
func (m *MemoryOutbox) Next(_ context.Context, after uint64, max int) ([]OutboxEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.idx.after(after, max), nil
}

// Ack implements Outbox.
func (m *MemoryOutbox) Ack(_ context.Context, seq uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.idx.ack(seq)
	return nil
}

// Len is the number of undelivered events.
func (m *MemoryOutbox) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.idx.undelivered
}

// Dropped is the number of events dropped because the outbox was full (a
// metric: it only grows).
func (m *MemoryOutbox) Dropped() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dropped
}

// pendingIndex is the undelivered events in Seq order; the caller locks.
// The front entry is never acknowledged (acknowledged entries are popped
// from the front as they reach it), so dropping the oldest is O(1).
type pendingIndex struct {
	events      []OutboxEvent
	acked       map[uint64]bool // acknowledged entries still in events
	undelivered int
	next        uint64
}

func (p *pendingIndex) add(e OutboxEvent) uint64 {
	e.Seq = p.next
	p.next++
	p.insert(e)
	return e.Seq
}

// insert appends an event that already has its Seq (above every other).
func (p *pendingIndex) insert(e OutboxEvent) {
	p.events = append(p.events, e)
	p.undelivered++
	if e.Seq >= p.next {
		p.next = e.Seq + 1
	}
}

func (p *pendingIndex) find(seq uint64) int {
	return sort.Search(len(p.events), func(i int) bool { return p.events[i].Seq >= seq })
}

func (p *pendingIndex) after(after uint64, max int) []OutboxEvent {
	var out []OutboxEvent
	for i := p.find(after + 1); i < len(p.events) && len(out) < max; i++ {
		if !p.acked[p.events[i].Seq] {
			out = append(out, p.events[i])
		}
	}
	return out
}

// ack reports whether seq was undelivered.
func (p *pendingIndex) ack(seq uint64) bool {
	i := p.find(seq)
	if i == len(p.events) || p.events[i].Seq != seq || p.acked[seq] {
		return false
	}
	p.undelivered--
	if i > 0 {
		if p.acked == nil {
			p.acked = map[uint64]bool{}
		}
		p.acked[seq] = true
		return true
	}
	p.popFront()
	return true
}

// popFront removes the front entry and every acknowledged one behind it.
func (p *pendingIndex) popFront() {
	p.events[0] = OutboxEvent{}
	p.events = p.events[1:]
	for len(p.events) > 0 && p.acked[p.events[0].Seq] {
		delete(p.acked, p.events[0].Seq)
		p.events[0] = OutboxEvent{}
		p.events = p.events[1:]
	}
	if len(p.events) == 0 {
		p.events = nil // let the backing array go
	}
}

// dropOldest removes and returns the oldest undelivered event.
func (p *pendingIndex) dropOldest() OutboxEvent {
	old := p.events[0]
	p.undelivered--
	p.popFront()
	return old
}
