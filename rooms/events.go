package rooms

import (
	"context"
	"sync"
	"time"
)

// EventType names what changed.
type EventType string

// The events a Manager emits.
const (
	SessionCreated       EventType = "session_created"
	SessionEnded         EventType = "session_ended"
	ParticipantAdded     EventType = "participant_added"   // joined a session
	ParticipantRemoved   EventType = "participant_removed" // left a session
	SubscriptionsChanged EventType = "subscriptions_changed"
	StreamsChanged       EventType = "streams_changed" // one event per session the publisher is in
)

// Event is one change. SessionID is set on every type; ParticipantID on all
// but SessionCreated and SessionEnded.
type Event struct {
	Type          EventType `json:"type"`
	Account       string    `json:"account"`
	SessionID     string    `json:"sessionId"`
	ParticipantID string    `json:"participantId,omitempty"`
	At            time.Time `json:"at"`
}

// Bus carries room events from the Manager that emits them to their
// subscribers (calling's servers). The default, NewMemoryBus, is one
// process's; a Bus on a shared broker (Redis pub/sub, say) lets the node
// that hosts a room see the changes a REST request made on another node.
// Implementations must be safe for concurrent use.
type Bus interface {
	// Publish hands e to every current subscriber and never waits for one:
	// a subscriber whose buffer is full is ended with ErrSlowConsumer.
	Publish(ctx context.Context, e Event) error
	// Subscribe returns a subscription to every event published from now
	// until ctx ends, buffering up to buffer events (build it with NewEvents).
	Subscribe(ctx context.Context, buffer int) *Events
}

// Events is one subscription to room events. Read C until it is closed;
// Err then tells why: nil after the context ended, ErrSlowConsumer if the
// reader fell more than the buffer behind, or an error of the Bus when it
// may have lost events (a shared bus whose connection dropped). In every
// case but the first, subscribe again and resynchronise from the Store.
// Safe for concurrent use.
type Events struct {
	C <-chan Event

	c    chan Event
	once sync.Once
	mu   sync.Mutex // guards err and orders Send against End
	err  error
	done bool
}

// NewEvents returns an open subscription with room for buffer events, for
// Bus implementations: they deliver with Send and finish with End.
func NewEvents(buffer int) *Events {
	c := make(chan Event, max(buffer, 1))
	return &Events{C: c, c: c}
}

// Err returns why C was closed (nil while open or after a normal end).
func (e *Events) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// Send delivers ev without blocking. It reports false when the
// subscription has ended, or when its buffer was full: it is then ended
// with ErrSlowConsumer.
func (e *Events) Send(ev Event) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return false
	}
	select {
	case e.c <- ev:
		return true
	default:
		e.endLocked(ErrSlowConsumer)
		return false
	}
}

// End closes C with err (nil: a normal end). Later calls do nothing.
func (e *Events) End(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.endLocked(err)
}

func (e *Events) endLocked(err error) {
	if e.done {
		return
	}
	e.done, e.err = true, err
	close(e.c)
}

// NewMemoryBus returns the in-process Bus, safe for concurrent use.
func NewMemoryBus() Bus { return &memoryBus{subs: make(map[*Events]struct{})} }

// memoryBus fans events out without ever blocking the publisher.
type memoryBus struct {
	mu   sync.Mutex // guards subs
	subs map[*Events]struct{}
}

var _ Bus = (*memoryBus)(nil)

func (b *memoryBus) Subscribe(ctx context.Context, buffer int) *Events {
	ev := NewEvents(buffer)
	b.mu.Lock()
	b.subs[ev] = struct{}{}
	b.mu.Unlock()
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		delete(b.subs, ev)
		b.mu.Unlock()
		ev.End(nil)
	})
	return ev
}

// Publish sends under the lock, so every subscriber sees events in the
// same order; Send never blocks, so neither does Publish.
func (b *memoryBus) Publish(_ context.Context, e Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ev := range b.subs {
		if !ev.Send(e) {
			delete(b.subs, ev)
		}
	}
	return nil
}
