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

// Events is one subscription to a Manager's events. Read C until it is
// closed; Err then tells why (nil after the context ended, ErrSlowConsumer
// if the reader fell more than the buffer behind). Safe for concurrent use.
type Events struct {
	C <-chan Event

	c    chan Event
	once sync.Once
	mu   sync.Mutex
	err  error
}

// Err returns why C was closed (nil while open or after a normal end).
func (e *Events) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

func (e *Events) end(err error) {
	e.once.Do(func() {
		e.mu.Lock()
		e.err = err
		e.mu.Unlock()
		close(e.c)
	})
}

// hub fans events out without ever blocking the Manager.
type hub struct {
	buffer int
	mu     sync.Mutex // guards subs; sends happen under it, but never block
	subs   map[*Events]struct{}
}

func (h *hub) subscribe(ctx context.Context) *Events {
	c := make(chan Event, h.buffer)
	ev := &Events{C: c, c: c}
	h.mu.Lock()
	h.subs[ev] = struct{}{}
	h.mu.Unlock()
	context.AfterFunc(ctx, func() {
		h.mu.Lock()
		delete(h.subs, ev)
		ev.end(nil)
		h.mu.Unlock()
	})
	return ev
}

func (h *hub) emit(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ev := range h.subs {
		select {
		case ev.c <- e:
		default:
			delete(h.subs, ev)
			ev.end(ErrSlowConsumer)
		}
	}
}
