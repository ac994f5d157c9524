package calling_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// The shared seams of a Server, each switchable at run time between
// working and unreachable (every call fails with storeDown, as
// adapters/redis fails with its UnavailableError when Redis is away).

// flakyStore is a rooms.Store over the in-memory one. inner is the store
// itself, for the test to look at what was really written.
type flakyStore struct {
	inner rooms.Store
	down  atomic.Bool
	// loseNext: the next UpdateMembership is written, then the store goes
	// down before answering (the answer of a write is lost as Redis goes);
	// loseCreate: the same for the next participant created.
	loseNext, loseCreate atomic.Bool
}

func newFlakyStore() *flakyStore { return &flakyStore{inner: rooms.NewMemoryStore()} }

func (f *flakyStore) Sessions() rooms.Table[*rooms.Session] {
	return flakyTable[*rooms.Session]{f.inner.Sessions(), &f.down, nil}
}

func (f *flakyStore) Participants() rooms.Table[*rooms.Participant] {
	return flakyTable[*rooms.Participant]{f.inner.Participants(), &f.down, &f.loseCreate}
}

func (f *flakyStore) UpdateMembership(ctx context.Context, account, sid, pid string, fn func(*rooms.Session, *rooms.Participant) error) error {
	if f.down.Load() {
		return storeDown{}
	}
	err := f.inner.UpdateMembership(ctx, account, sid, pid, fn)
	if err == nil && f.loseNext.CompareAndSwap(true, false) {
		f.down.Store(true)
		return storeDown{}
	}
	return err
}

type flakyTable[T rooms.Record[T]] struct {
	t          rooms.Table[T]
	down       *atomic.Bool
	loseCreate *atomic.Bool // nil: never
}

func (f flakyTable[T]) Create(ctx context.Context, v T) error {
	if f.down.Load() {
		return storeDown{}
	}
	err := f.t.Create(ctx, v)
	if err == nil && f.loseCreate != nil && f.loseCreate.CompareAndSwap(true, false) {
		f.down.Store(true)
		return storeDown{}
	}
	return err
}

func (f flakyTable[T]) Get(ctx context.Context, account, id string) (T, error) {
	if f.down.Load() {
		var zero T
		return zero, storeDown{}
	}
	return f.t.Get(ctx, account, id)
}

func (f flakyTable[T]) Update(ctx context.Context, account, id string, fn func(T) error) (T, error) {
	if f.down.Load() {
		var zero T
		return zero, storeDown{}
	}
	return f.t.Update(ctx, account, id, fn)
}

func (f flakyTable[T]) Delete(ctx context.Context, account, id string) error {
	if f.down.Load() {
		return storeDown{}
	}
	return f.t.Delete(ctx, account, id)
}

func (f flakyTable[T]) List(ctx context.Context, account string) ([]T, error) {
	if f.down.Load() {
		return nil, storeDown{}
	}
	return f.t.List(ctx, account)
}

// flakyPresence is calling's in-memory Presence; failFor makes the claims
// of one identity fail (the store going away between two claims).
type flakyPresence struct {
	inner   calling.Presence
	down    atomic.Bool
	failFor atomic.Value // string
}

func (f *flakyPresence) fails(identity string) bool {
	who, _ := f.failFor.Load().(string)
	return f.down.Load() || (who != "" && who == identity)
}

func (f *flakyPresence) Claim(ctx context.Context, account, identity, callID string) (bool, error) {
	if f.fails(identity) {
		return false, storeDown{}
	}
	return f.inner.Claim(ctx, account, identity, callID)
}

func (f *flakyPresence) Release(ctx context.Context, account, identity, callID string) error {
	if f.down.Load() {
		return storeDown{}
	}
	return f.inner.Release(ctx, account, identity, callID)
}

func (f *flakyPresence) Holder(ctx context.Context, account, identity string) (string, error) {
	if f.down.Load() {
		return "", storeDown{}
	}
	return f.inner.Holder(ctx, account, identity)
}

// flakyReplay is auth's in-memory ReplayCache.
type flakyReplay struct {
	inner *auth.MemoryReplayCache
	down  atomic.Bool
}

func (f *flakyReplay) Revoke(ctx context.Context, key string, until time.Time) error {
	if f.down.Load() {
		return storeDown{}
	}
	return f.inner.Revoke(ctx, key, until)
}

func (f *flakyReplay) Revoked(ctx context.Context, key string) (bool, error) {
	if f.down.Load() {
		return false, storeDown{}
	}
	return f.inner.Revoked(ctx, key)
}

func (f *flakyReplay) Use(ctx context.Context, jti string, until time.Time) (bool, error) {
	if f.down.Load() {
		return false, storeDown{}
	}
	return f.inner.Use(ctx, jti, until)
}

// flakyEnv is an env whose Rooms store, Presence and token replay cache
// are the flaky ones.
type flakyEnv struct {
	*env
	store    *flakyStore
	presence *flakyPresence
	replay   *flakyReplay
}

func newFlakyEnv(t *testing.T, retry time.Duration) *flakyEnv {
	t.Helper()
	f := &flakyEnv{store: newFlakyStore(), presence: &flakyPresence{inner: calling.NewMemoryPresence()},
		replay: &flakyReplay{inner: auth.NewMemoryReplayCache(auth.MemoryReplayCacheConfig{})}}
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: f.replay})
	mgr, err := rooms.NewManager(rooms.Config{Store: f.store})
	if err != nil {
		t.Fatal(err)
	}
	f.env = newEnv(t, func(c *calling.Config) {
		c.Rooms, c.Verifier, c.Presence = mgr, ver, f.presence
		c.StoreRetryInterval = retry
		c.Limits.ConnJoinRate, c.Limits.ConnCallRate = -1, -1 // the tests retry on one connection
	})
	f.issuer = iss
	return f
}

// wantStoreUnavailable checks that err is the signaling error 503
// store_unavailable.
func wantStoreUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != 503 || pe.Reason != protocol.ReasonStoreUnavailable {
		t.Fatalf("%s with the store down: %v, want error 503 %s", what, err, protocol.ReasonStoreUnavailable)
	}
}

// stored is what the store really holds: the account's participants, and
// the members of room.
func (f *flakyEnv) stored(t *testing.T, room string) (parts []*rooms.Participant, members []string) {
	t.Helper()
	ctx := context.Background()
	parts, err := f.store.inner.Participants().List(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.store.inner.Sessions().Get(ctx, acct, rooms.RoomSessionID(room))
	if errors.Is(err, rooms.ErrNotFound) {
		return parts, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return parts, s.MemberIDs()
}
