package rooms

import (
	"context"
	"sync"
)

// Record is what a Table stores: a value that knows its key and copies itself.
type Record[T any] interface {
	RecordKey() (account, id string)
	Clone() T
}

// Table stores one kind of record, keyed by account and id. Every method
// is safe for concurrent use; Update is an atomic read-modify-write (the
// Redis adapter implements it with optimistic transactions). Values passed
// in and returned are copies: the caller may keep and change them.
type Table[T Record[T]] interface {
	// Create stores v; ErrExists if its key is taken.
	Create(ctx context.Context, v T) error
	// Get returns the record; ErrNotFound if absent.
	Get(ctx context.Context, account, id string) (T, error)
	// Update applies fn to the record atomically and stores the result unless
	// fn returns an error, which Update then returns. fn may run more than
	// once (a shared store runs it again on a fresh copy when another writer
	// changed the record meanwhile): it must only change its argument and
	// set variables that each run sets afresh.
	Update(ctx context.Context, account, id string, fn func(T) error) (T, error)
	// Delete removes the record; ErrNotFound if absent.
	Delete(ctx context.Context, account, id string) error
	// List returns every record of account ("" = every account).
	List(ctx context.Context, account string) ([]T, error)
}

// Store is where the Manager keeps sessions and participants. The in-memory
// default is NewMemoryStore; a shared store (Redis, SQL) implements the same
// three methods so that any node can serve the REST API.
type Store interface {
	Sessions() Table[*Session]
	Participants() Table[*Participant]
	// UpdateMembership changes session sid and participant pid of account in
	// one atomic step: fn gets copies of both records and, unless it returns
	// an error (which UpdateMembership then returns), both are stored
	// together; like Update's, fn may run more than once. ErrSessionNotFound
	// or ErrParticipantNotFound (both wrap
	// ErrNotFound) if a record is absent, the session checked first. This is how
	// membership (Session.Members and Participant.Sessions) never
	// disagrees, on one node or many: a shared store implements it with one
	// transaction (Redis WATCH/MULTI on the two keys, or a script).
	UpdateMembership(ctx context.Context, account, sid, pid string, fn func(*Session, *Participant) error) error
}

// NewMemoryStore returns an in-memory Store, safe for concurrent use.
func NewMemoryStore() Store {
	return &memoryStore{sessions: newMemoryTable[*Session](), participants: newMemoryTable[*Participant]()}
}

type memoryStore struct {
	sessions     *memoryTable[*Session]
	participants *memoryTable[*Participant]
}

func (m *memoryStore) Sessions() Table[*Session]         { return m.sessions }
func (m *memoryStore) Participants() Table[*Participant] { return m.participants }

// UpdateMembership holds both tables' locks, always sessions first: it is
// the only operation that takes two, so the order cannot deadlock.
func (m *memoryStore) UpdateMembership(_ context.Context, account, sid, pid string, fn func(*Session, *Participant) error) error {
	m.sessions.mu.Lock()
	defer m.sessions.mu.Unlock()
	m.participants.mu.Lock()
	defer m.participants.mu.Unlock()
	sk, pk := recordKey{account, sid}, recordKey{account, pid}
	s, ok := m.sessions.rows[sk]
	if !ok {
		return ErrSessionNotFound
	}
	p, ok := m.participants.rows[pk]
	if !ok {
		return ErrParticipantNotFound
	}
	sc, pc := s.Clone(), p.Clone()
	if err := fn(sc, pc); err != nil {
		return err
	}
	m.sessions.rows[sk], m.participants.rows[pk] = sc, pc
	return nil
}

var (
	_ Store               = (*memoryStore)(nil)
	_ Table[*Session]     = (*memoryTable[*Session])(nil)
	_ Table[*Participant] = (*memoryTable[*Participant])(nil)
)

type recordKey struct{ account, id string }

type memoryTable[T Record[T]] struct {
	mu   sync.RWMutex
	rows map[recordKey]T
}

func newMemoryTable[T Record[T]]() *memoryTable[T] {
	return &memoryTable[T]{rows: make(map[recordKey]T)}
}

func (t *memoryTable[T]) Create(_ context.Context, v T) error {
	a, id := v.RecordKey()
	t.mu.Lock()
	defer t.mu.Unlock()
	k := recordKey{a, id}
	if _, ok := t.rows[k]; ok {
		return ErrExists
	}
	t.rows[k] = v.Clone()
	return nil
}

func (t *memoryTable[T]) Get(_ context.Context, account, id string) (T, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	v, ok := t.rows[recordKey{account, id}]
	if !ok {
		var zero T
		return zero, ErrNotFound
	}
	return v.Clone(), nil
}

func (t *memoryTable[T]) Update(_ context.Context, account, id string, fn func(T) error) (T, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var zero T
	k := recordKey{account, id}
	v, ok := t.rows[k]
	if !ok {
		return zero, ErrNotFound
	}
	c := v.Clone()
	if err := fn(c); err != nil {
		return zero, err
	}
	t.rows[k] = c
	return c.Clone(), nil
}

func (t *memoryTable[T]) Delete(_ context.Context, account, id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := recordKey{account, id}
	if _, ok := t.rows[k]; !ok {
		return ErrNotFound
	}
	delete(t.rows, k)
	return nil
}

func (t *memoryTable[T]) List(_ context.Context, account string) ([]T, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []T
	for k, v := range t.rows {
		if account == "" || k.account == account {
			out = append(out, v.Clone())
		}
	}
	return out, nil
}
