package push

import (
	"cmp"
	"context"
	"crypto/rand"
	"slices"
	"sync"
)

// Registry stores devices. The Waker reads and prunes it; Handler serves it
// to users. A push token (platform and token) belongs to at most one device:
// registered again, by another identity or in another account, it moves
// there (the phone now belongs to whoever signed in last, and the previous
// owner's calls must stop reaching it). Implementations must be safe for
// concurrent use; MemoryRegistry is the in-memory one, adapters/redis's
// Registry one that several nodes share. Both pass the conformance suite
// pushtest.RegistrySuite.
type Registry interface {
	// Register stores d (validated with Device.Validate) and returns it with
	// its ID and CreatedAt. The same token registered again by the same
	// identity keeps its ID and CreatedAt and takes d's App and Sandbox.
	// Errors: the validation errors, ErrTooManyDevices, ErrRegistryFull.
	Register(ctx context.Context, d Device) (Device, error)
	// Devices lists the identity's devices, oldest first.
	Devices(ctx context.Context, account, identity string) ([]Device, error)
	// Remove deletes the identity's device id; ErrDeviceNotFound if the
	// identity of that account has no such device.
	Remove(ctx context.Context, account, identity, id string) error
}

var _ Registry = (*MemoryRegistry)(nil)

// Defaults of MemoryRegistryConfig.
const (
	DefaultMaxDevicesPerIdentity = 10
	DefaultMaxDevices            = 100_000
)

// MemoryRegistryConfig configures NewMemoryRegistry. The zero value works.
type MemoryRegistryConfig struct {
	// MaxDevicesPerIdentity bounds one identity's devices; registering one
	// more is ErrTooManyDevices (re-registering a token the identity already
	// has is not one more). Default 10.
	MaxDevicesPerIdentity int
	// MaxDevices bounds the registry as a whole; past it, ErrRegistryFull.
	// Default 100,000.
	MaxDevices int
	// Clock stamps CreatedAt. Nil: the real clock.
	Clock Clock
}

// MemoryRegistry is a Registry in process memory, bounded by its config.
// Safe for concurrent use.
type MemoryRegistry struct {
	cfg        MemoryRegistryConfig
	mu         sync.Mutex
	byID       map[string]*Device
	byToken    map[tokenKey]string
	byIdentity map[identityKey][]string // device ids, oldest first
}

type tokenKey struct {
	platform Platform
	token    string
}

type identityKey struct{ account, identity string }

// NewMemoryRegistry returns an empty registry.
func NewMemoryRegistry(cfg MemoryRegistryConfig) *MemoryRegistry {
	cfg.MaxDevicesPerIdentity = cmp.Or(cfg.MaxDevicesPerIdentity, DefaultMaxDevicesPerIdentity)
	cfg.MaxDevices = cmp.Or(cfg.MaxDevices, DefaultMaxDevices)
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	return &MemoryRegistry{
		cfg:        cfg,
		byID:       make(map[string]*Device),
		byToken:    make(map[tokenKey]string),
		byIdentity: make(map[identityKey][]string),
	}
}

// Register implements Registry.
func (m *MemoryRegistry) Register(_ context.Context, d Device) (Device, error) {
	d, err := d.Validate()
	if err != nil {
		return Device{}, err
	}
	tk := tokenKey{d.Platform, d.Token}
	ik := identityKey{d.Account, d.Identity}
	m.mu.Lock()
	defer m.mu.Unlock()
	var moving *Device
	if id, ok := m.byToken[tk]; ok {
		old := m.byID[id]
		if old.Account == d.Account && old.Identity == d.Identity {
			old.App, old.Sandbox = d.App, d.Sandbox
			return *old, nil
		}
		moving = old
	}
	if len(m.byIdentity[ik]) >= m.cfg.MaxDevicesPerIdentity {
		return Device{}, ErrTooManyDevices
	}
	if moving == nil && len(m.byID) >= m.cfg.MaxDevices {
		return Device{}, ErrRegistryFull
	}
	if moving != nil {
		m.removeLocked(moving)
	}
	d.ID = "d-" + rand.Text()
	d.CreatedAt = m.cfg.Clock.Now()
	stored := d
	m.byID[d.ID] = &stored
	m.byToken[tk] = d.ID
	m.byIdentity[ik] = append(m.byIdentity[ik], d.ID)
	return d, nil
}

// Devices implements Registry.
func (m *MemoryRegistry) Devices(_ context.Context, account, identity string) ([]Device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := m.byIdentity[identityKey{account, identity}]
	out := make([]Device, 0, len(ids))
	for _, id := range ids {
		out = append(out, *m.byID[id])
	}
	return out, nil
}

// Remove implements Registry.
func (m *MemoryRegistry) Remove(_ context.Context, account, identity, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.byID[id]
	if !ok || d.Account != account || d.Identity != identity {
		return ErrDeviceNotFound
	}
	m.removeLocked(d)
	return nil
}

// Len returns the number of devices stored.
func (m *MemoryRegistry) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byID)
}

// removeLocked deletes d from every index; m.mu held.
func (m *MemoryRegistry) removeLocked(d *Device) {
	delete(m.byID, d.ID)
	delete(m.byToken, tokenKey{d.Platform, d.Token})
	ik := identityKey{d.Account, d.Identity}
	ids := slices.DeleteFunc(m.byIdentity[ik], func(id string) bool { return id == d.ID })
	if len(ids) == 0 {
		delete(m.byIdentity, ik)
	} else {
		m.byIdentity[ik] = ids
	}
}
