package redis

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/rooms"
)

// Store is a rooms.Store in Redis, shared by every node given the same
// prefix. Each record is a JSON string under its own key
// (<prefix>rooms:<kind>:<account>:<id>), with a set of ids per account and
// a set of accounts for List.
//
// Update and UpdateMembership are optimistic transactions: WATCH the
// record's key (both keys for UpdateMembership), read, run fn in Go, then
// write in MULTI/EXEC, which Redis refuses if a watched key changed in
// between; the whole step then starts again on fresh copies, after a short
// random pause, up to Config.MaxConflictRetries times (then ErrConflict).
// Transactions rather than Lua scripts because fn is Go code: the rules it
// applies (limits, subscriptions) stay in package rooms, written once, and
// a script would have to repeat them. Create and Delete, which keep the
// indexes in step with the record, are scripts.
//
// A Store is safe for concurrent use.
type Store struct {
	sessions     *table[*rooms.Session]
	participants *table[*rooms.Participant]
	c            *Client
}

var _ rooms.Store = (*Store)(nil)

// Store returns the rooms.Store of this Client's prefix.
func (c *Client) Store() *Store {
	return &Store{
		sessions:     &table[*rooms.Session]{c: c, kind: "s"},
		participants: &table[*rooms.Participant]{c: c, kind: "p"},
		c:            c,
	}
}

// Sessions implements rooms.Store.
func (s *Store) Sessions() rooms.Table[*rooms.Session] { return s.sessions }

// Participants implements rooms.Store.
func (s *Store) Participants() rooms.Table[*rooms.Participant] { return s.participants }

// fnError carries the error of a caller's fn out of a transaction.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }

// UpdateMembership implements rooms.Store with one WATCH/MULTI transaction
// on both keys.
func (s *Store) UpdateMembership(ctx context.Context, account, sid, pid string, fn func(*rooms.Session, *rooms.Participant) error) error {
	sk, pk := s.sessions.key(account, sid), s.participants.key(account, pid)
	return s.c.optimistic(ctx, "rooms.UpdateMembership", func(tx *goredis.Tx) error {
		vals, err := tx.MGet(ctx, sk, pk).Result()
		if err != nil {
			return err
		}
		if vals[0] == nil {
			return &fnError{rooms.ErrSessionNotFound}
		}
		if vals[1] == nil {
			return &fnError{rooms.ErrParticipantNotFound}
		}
		sess, err := s.sessions.decode(vals[0])
		if err != nil {
			return err
		}
		part, err := s.participants.decode(vals[1])
		if err != nil {
			return err
		}
		if err := fn(sess, part); err != nil {
			return &fnError{err}
		}
		sb, err := encodeRecord(sess)
		if err != nil {
			return err
		}
		pb, err := encodeRecord(part)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, sk, sb, 0)
			p.Set(ctx, pk, pb, 0)
			return nil
		})
		return err
	}, sk, pk)
}

// optimistic runs step in a transaction watching keys, again on conflict.
// An error step wraps in fnError is returned as it is; any other is
// classified by wrap.
func (c *Client) optimistic(ctx context.Context, op string, step func(*goredis.Tx) error, keys ...string) error {
	for attempt := 0; ; attempt++ {
		err := c.rdb.Watch(ctx, step, keys...)
		var fe *fnError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &fe):
			return fe.err
		case !errors.Is(err, goredis.TxFailedErr):
			return wrap(op, err)
		case attempt >= c.cfg.MaxConflictRetries:
			return &conflictError{op}
		}
		// Lost to another writer: pause a little (random, growing up to
		// about 16 ms) so that writers on one record spread out.
		pause := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 4)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}

// table is one kind of record.
type table[T rooms.Record[T]] struct {
	c    *Client
	kind string // "s" sessions, "p" participants
}

var (
	_ rooms.Table[*rooms.Session]     = (*table[*rooms.Session])(nil)
	_ rooms.Table[*rooms.Participant] = (*table[*rooms.Participant])(nil)
)

func (t *table[T]) key(account, id string) string { return t.c.key("rooms:"+t.kind, account, id) }
func (t *table[T]) index(account string) string   { return t.c.key("rooms:"+t.kind+"-ids", account) }
func (t *table[T]) accounts() string              { return t.c.key("rooms:" + t.kind + "-accounts") }

// decode reads a stored value (a string from GET or MGET) into a fresh T,
// normalised by its Clone (a session's member map is never nil).
func (t *table[T]) decode(v any) (T, error) {
	var zero T
	s, ok := v.(string)
	if !ok {
		return zero, errors.New("redis: a record is not a string")
	}
	rec := newRecord[T]()
	if err := decodeRecord([]byte(s), rec); err != nil {
		return zero, err
	}
	return rec.Clone(), nil
}

// newRecord allocates the struct a T points to.
func newRecord[T any]() T {
	var v T
	switch p := any(&v).(type) {
	case **rooms.Session:
		*p = &rooms.Session{}
	case **rooms.Participant:
		*p = &rooms.Participant{}
	}
	return v
}

var createScript = goredis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('SADD', KEYS[2], ARGV[2])
  redis.call('SADD', KEYS[3], ARGV[3])
  return 1
end
return 0`)

// Create implements rooms.Table: the record and its index entries in one
// script.
func (t *table[T]) Create(ctx context.Context, v T) error {
	account, id := v.RecordKey()
	b, err := encodeRecord(v)
	if err != nil {
		return err
	}
	n, err := createScript.Run(ctx, t.c.rdb, []string{t.key(account, id), t.index(account), t.accounts()}, b, id, account).Int()
	if err != nil {
		return wrap("rooms.Create", err)
	}
	if n == 0 {
		return rooms.ErrExists
	}
	return nil
}

// Get implements rooms.Table.
func (t *table[T]) Get(ctx context.Context, account, id string) (T, error) {
	var zero T
	s, err := t.c.rdb.Get(ctx, t.key(account, id)).Result()
	if errors.Is(err, goredis.Nil) {
		return zero, rooms.ErrNotFound
	}
	if err != nil {
		return zero, wrap("rooms.Get", err)
	}
	return t.decode(s)
}

// Update implements rooms.Table with a WATCH/MULTI transaction.
func (t *table[T]) Update(ctx context.Context, account, id string, fn func(T) error) (T, error) {
	var out T
	k := t.key(account, id)
	err := t.c.optimistic(ctx, "rooms.Update", func(tx *goredis.Tx) error {
		s, err := tx.Get(ctx, k).Result()
		if errors.Is(err, goredis.Nil) {
			return &fnError{rooms.ErrNotFound}
		}
		if err != nil {
			return err
		}
		v, err := t.decode(s)
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return &fnError{err}
		}
		b, err := encodeRecord(v)
		if err != nil {
			return err
		}
		if _, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, k, b, 0)
			return nil
		}); err != nil {
			return err
		}
		out = v.Clone()
		return nil
	}, k)
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

var deleteScript = goredis.NewScript(`
if redis.call('DEL', KEYS[1]) == 0 then
  return 0
end
redis.call('SREM', KEYS[2], ARGV[1])
if redis.call('SCARD', KEYS[2]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[2])
end
return 1`)

// Delete implements rooms.Table: the record and its index entries in one
// script.
func (t *table[T]) Delete(ctx context.Context, account, id string) error {
	n, err := deleteScript.Run(ctx, t.c.rdb, []string{t.key(account, id), t.index(account), t.accounts()}, id, account).Int()
	if err != nil {
		return wrap("rooms.Delete", err)
	}
	if n == 0 {
		return rooms.ErrNotFound
	}
	return nil
}

// List implements rooms.Table. It is not a snapshot: a record created or
// deleted while it runs may or may not be in the result.
func (t *table[T]) List(ctx context.Context, account string) ([]T, error) {
	accounts := []string{account}
	if account == "" {
		var err error
		if accounts, err = t.c.rdb.SMembers(ctx, t.accounts()).Result(); err != nil {
			return nil, wrap("rooms.List", err)
		}
	}
	var out []T
	for _, a := range accounts {
		ids, err := t.c.rdb.SMembers(ctx, t.index(a)).Result()
		if err != nil {
			return nil, wrap("rooms.List", err)
		}
		for len(ids) > 0 {
			n := min(len(ids), 500)
			keys := make([]string, n)
			for i, id := range ids[:n] {
				keys[i] = t.key(a, id)
			}
			ids = ids[n:]
			vals, err := t.c.rdb.MGet(ctx, keys...).Result()
			if err != nil {
				return nil, wrap("rooms.List", err)
			}
			for _, v := range vals {
				if v == nil {
					continue // deleted meanwhile
				}
				rec, err := t.decode(v)
				if err != nil {
					return nil, err
				}
				out = append(out, rec)
			}
		}
	}
	return out, nil
}
