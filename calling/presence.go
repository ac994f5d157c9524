package calling

import (
	"context"
	"sync"
)

// Presence holds the busy marks of 1:1 calls: which identity is in which
// call. It is the part of a Server's state that must hold across nodes (an
// identity in a call on one node is busy for a call placed on another), so
// it is an interface: the default, NewMemoryPresence, is this process's; a
// shared one (adapters/redis's Presence) makes the marks cluster-wide. Both
// pass the conformance suite callingtest.PresenceSuite. The rest of the call registry (open connections, the ones
// that ring, the calls themselves) holds live connections and stays on the
// node that has them; docs/architecture.md lists what a second node needs
// from each.
//
// A Server calls these methods while it holds its call lock, so that the
// busy check and the ringing that follows are one step: implementations
// must answer quickly and be safe for concurrent use.
type Presence interface {
	// Claim marks identity of account busy with callID unless another call
	// holds it, and reports whether callID holds it now.
	Claim(ctx context.Context, account, identity, callID string) (bool, error)
	// Release removes the mark if callID holds it.
	Release(ctx context.Context, account, identity, callID string) error
	// Holder returns the call that holds identity's mark ("" for none).
	Holder(ctx context.Context, account, identity string) (string, error)
}

// NewMemoryPresence returns the in-process Presence, safe for concurrent use.
func NewMemoryPresence() Presence { return &memoryPresence{busy: map[identKey]string{}} }

type memoryPresence struct {
	mu   sync.Mutex
	busy map[identKey]string
}

var _ Presence = (*memoryPresence)(nil)

func (m *memoryPresence) Claim(_ context.Context, account, identity, callID string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := identKey{account, identity}
	if held, ok := m.busy[k]; ok {
		return held == callID, nil
	}
	m.busy[k] = callID
	return true, nil
}

func (m *memoryPresence) Release(_ context.Context, account, identity, callID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := identKey{account, identity}
	if m.busy[k] == callID {
		delete(m.busy, k)
	}
	return nil
}

func (m *memoryPresence) Holder(_ context.Context, account, identity string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.busy[identKey{account, identity}], nil
}
