package calling

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/httpx"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// DefaultStoreRetryInterval is Config.StoreRetryInterval's default.
const DefaultStoreRetryInterval = time.Second

// storeWriteTimeout bounds one attempt at a batch of store writes (the
// shared store's own timeouts are shorter: adapters/redis fails fast).
const storeWriteTimeout = 5 * time.Second

// Store writes that must not be lost.
//
// A request that fails because the shared store (rooms.Store on Redis) is
// unavailable answers 503 store_unavailable, and must leave nothing behind:
// what it had written before the failure is taken back (an ephemeral
// participant created before the room join failed; a membership whose
// write reached the store although its answer was lost). The same goes for
// a connection that leaves while the store is away (its membership, its
// streams, an emptied call session). Those writes cannot reach the store
// either, so the Server keeps them: each is tried at once and, while the
// store is unavailable, again every Config.StoreRetryInterval (on the
// Clock) until it succeeds, so nothing stays half-written once the store is
// back, with no one having to reconnect. Every write is idempotent (done
// when the record is already as it should be).
//
// The writes of one participant are kept in order under its key, and a join
// of that participant runs them first (flush), so a late retry can never
// undo a newer join. The queue is bounded by Limits.PendingStoreWrites.

// storeWrite is one idempotent write to the shared store.
type storeWrite struct {
	what string // for logs
	do   func(ctx context.Context) error
}

// retryKey names whose writes a queue holds: a participant of an account.
type retryKey struct{ account, pid string }

// retryQueue is one key's writes, in order.
type retryQueue struct {
	run    sync.Mutex   // held while this key's writes run: one runner at a time, in order
	writes []storeWrite // guarded by storeRetry.mu
}

// storeRetry holds the writes waiting for the store. Safe for concurrent use.
type storeRetry struct {
	mu     sync.Mutex
	keys   map[retryKey]*retryQueue
	n      int         // writes held, over all keys
	stop   func() bool // the pending sweep's timer, nil when none is armed
	closed bool
}

// writeStore runs ws in order for pid's key, after any writes of that key
// still waiting; what the store cannot take now (unavailable) waits for
// the next sweep. Run on the caller's goroutine (a peer's loop), bounded
// by storeWriteTimeout, never by the server's context: a connection that
// ends as the server closes still takes its participant out.
func (s *Server) writeStore(account, pid string, ws ...storeWrite) {
	if len(ws) == 0 {
		return
	}
	key := retryKey{account, pid}
	ctx, cancel := context.WithTimeout(context.Background(), storeWriteTimeout)
	defer cancel()
	if !s.retry.add(s, key, ws) { // the queue is full: one try, then the writes are lost
		for _, w := range ws {
			if err := w.do(ctx); err != nil {
				s.log.Error("store write lost: the retry queue is full", "write", w.what, "participant", pid, "err", err)
			}
		}
		return
	}
	_ = s.runStoreWrites(ctx, key)
}

// flushStoreWrites runs the writes still waiting for pid's key and returns
// an error when the store is still unavailable (some remain). A join runs
// it first.
func (s *Server) flushStoreWrites(ctx context.Context, account, pid string) error {
	return s.runStoreWrites(ctx, retryKey{account, pid})
}

// runStoreWrites runs key's waiting writes in order until one finds the
// store unavailable (it stays first, and its error is returned). A write
// that fails otherwise is dropped and logged: trying again would not help.
func (s *Server) runStoreWrites(ctx context.Context, key retryKey) error {
	r := &s.retry
	r.mu.Lock()
	q := r.keys[key]
	r.mu.Unlock()
	if q == nil {
		return nil
	}
	q.run.Lock()
	defer q.run.Unlock()
	for {
		r.mu.Lock()
		if len(q.writes) == 0 {
			if r.keys[key] == q {
				delete(r.keys, key)
			}
			r.mu.Unlock()
			return nil
		}
		w := q.writes[0]
		r.mu.Unlock()
		err := w.do(ctx)
		if err != nil && httpx.Unavailable(err) {
			return err
		}
		if err != nil {
			s.log.Warn("store write dropped", "write", w.what, "participant", key.pid, "err", err)
		}
		r.mu.Lock()
		q.writes[0] = storeWrite{}
		q.writes = q.writes[1:]
		r.n--
		r.mu.Unlock()
	}
}

// add queues ws under key and arms a sweep; false when Limits.PendingStoreWrites
// would be passed (nothing is queued).
func (r *storeRetry) add(s *Server, key retryKey, ws []storeWrite) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if limit := s.lim.cfg.PendingStoreWrites; limit >= 0 && r.n+len(ws) > limit {
		return false
	}
	if r.keys == nil {
		r.keys = map[retryKey]*retryQueue{}
	}
	q := r.keys[key]
	if q == nil {
		q = &retryQueue{}
		r.keys[key] = q
	}
	q.writes = append(q.writes, ws...)
	r.n += len(ws)
	r.arm(s)
	return true
}

// arm schedules a sweep unless one is pending or the server has closed; r.mu held.
func (r *storeRetry) arm(s *Server) {
	if r.stop != nil || r.closed {
		return
	}
	r.stop = s.clock.AfterFunc(s.cfg.StoreRetryInterval, s.sweepStoreWrites)
}

// sweepStoreWrites runs every key's waiting writes, stopping at the first
// that finds the store still unavailable (the others would too), and arms
// the next sweep while any remain. It runs on the Clock's timer goroutine.
func (s *Server) sweepStoreWrites() {
	r := &s.retry
	r.mu.Lock()
	r.stop = nil
	keys := make([]retryKey, 0, len(r.keys))
	for k := range r.keys {
		keys = append(keys, k)
	}
	r.mu.Unlock()
	for _, k := range keys {
		if s.ctx.Err() != nil {
			return
		}
		c, cancel := context.WithTimeout(s.ctx, storeWriteTimeout)
		err := s.runStoreWrites(c, k)
		cancel()
		if err != nil {
			s.log.Debug("the shared store is still unavailable; store writes wait", "err", err)
			break
		}
	}
	r.mu.Lock()
	if r.n > 0 {
		r.arm(s)
	}
	r.mu.Unlock()
}

// closeStoreRetry stops the sweeps (Close); writes still waiting are lost,
// and counted in the log.
func (s *Server) closeStoreRetry() {
	r := &s.retry
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.stop != nil {
		r.stop()
		r.stop = nil
	}
	if r.n > 0 {
		s.log.Warn("server closed with store writes still waiting for the shared store", "writes", r.n)
	}
}

// PendingStoreWrites is how many store writes wait for a shared store that
// was unavailable (see Config.StoreRetryInterval). Safe for concurrent use.
func (s *Server) PendingStoreWrites() int {
	s.retry.mu.Lock()
	defer s.retry.mu.Unlock()
	return s.retry.n
}

// The writes that take a participant out, each done when there is nothing
// left to do.

func removeMember(m *rooms.Manager, account, sid, pid string) storeWrite {
	return storeWrite{what: "remove participant from session", do: func(ctx context.Context) error {
		err := m.RemoveParticipant(ctx, account, sid, pid)
		if errors.Is(err, rooms.ErrNotMember) || errors.Is(err, rooms.ErrNotFound) {
			return nil
		}
		return err
	}}
}

func deleteParticipant(m *rooms.Manager, account, pid string) storeWrite {
	return storeWrite{what: "delete participant", do: func(ctx context.Context) error {
		err := m.DeleteParticipant(ctx, account, pid)
		if errors.Is(err, rooms.ErrNotFound) {
			return nil
		}
		return err
	}}
}

func setStreams(m *rooms.Manager, account, pid string, streams []rooms.Stream) storeWrite {
	return storeWrite{what: "set streams", do: func(ctx context.Context) error {
		err := m.SetStreams(ctx, account, pid, streams)
		if errors.Is(err, rooms.ErrNotFound) {
			return nil
		}
		return err
	}}
}

// deleteIfEmpty ends a call's session once its last party has left.
func deleteIfEmpty(m *rooms.Manager, account, sid string) storeWrite {
	return storeWrite{what: "delete empty call session", do: func(ctx context.Context) error {
		s, err := m.Session(ctx, account, sid)
		if err == nil && len(s.Members) == 0 {
			err = m.DeleteSession(ctx, account, sid)
		}
		if errors.Is(err, rooms.ErrNotFound) {
			return nil
		}
		return err
	}}
}
