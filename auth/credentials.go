package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Client is one API client (an OAuth2 client of the token endpoint): its id,
// the account it acts for, the scopes it may ask for, and its secret, kept
// only as a salted SHA-256 digest.
type Client struct {
	ID      string
	Account string
	// Scopes the client may request; a token request without scope gets all of them.
	Scopes []string
	salt   [16]byte
	digest [32]byte
}

// CheckSecret compares secret with the client's in constant time.
func (c *Client) CheckSecret(secret string) bool {
	d := secretDigest(c.salt, secret)
	return subtle.ConstantTimeCompare(d[:], c.digest[:]) == 1
}

// checkEither reports whether raw or decoded is the client's secret. Both
// digests are always computed and compared, and the results combined without
// short-circuit, so the time taken does not tell which reading matched.
func (c *Client) checkEither(raw, decoded string) bool {
	d1 := secretDigest(c.salt, raw)
	d2 := secretDigest(c.salt, decoded)
	a := subtle.ConstantTimeCompare(d1[:], c.digest[:])
	b := subtle.ConstantTimeCompare(d2[:], c.digest[:])
	return a|b == 1
}

func secretDigest(salt [16]byte, secret string) [32]byte {
	h := sha256.New()
	h.Write(salt[:])
	h.Write([]byte(secret))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// NewClient returns a Client whose secret is stored hashed. The id must
// follow the identity rule, the account must be non-empty, and the secret
// must be at least 16 bytes (generate one with NewSecret). Scopes are the
// API scopes the client may ask the token endpoint for: each 1-64 printable
// ASCII characters without space, '?' or '&', and never a capability name
// (client.outgoing, room.join, data, ...), so that an API scope and a user
// capability can never be mistaken for each other.
func NewClient(id, secret, account string, scopes ...string) (*Client, error) {
	if !ValidIdentity(id) {
		return nil, fmt.Errorf("%w: client id", ErrInvalidIdentity)
	}
	if account == "" {
		return nil, errors.New("auth: client account is required")
	}
	if len(secret) < 16 {
		return nil, errors.New("auth: client secret must be at least 16 bytes")
	}
	for _, sc := range scopes {
		if !validAPIScope(sc) {
			return nil, fmt.Errorf("auth: client scope %q: 1-64 printable ASCII characters without space, '?' or '&', and not a capability name", sc)
		}
	}
	c := &Client{ID: id, Account: account, Scopes: slices.Clone(scopes)}
	if _, err := rand.Read(c.salt[:]); err != nil {
		return nil, err
	}
	c.digest = secretDigest(c.salt, secret)
	return c, nil
}

// NewSecret returns a random 32-byte secret, base64url encoded without
// padding: 43 characters of A–Z, a–z, 0–9, '-' and '_', all unreserved in
// URLs, so the secret reads the same whether or not a client form-encodes it.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// CredentialStore finds API clients by id. Implementations are safe for
// concurrent use and return ErrInvalidClient for an unknown id.
type CredentialStore interface {
	Client(ctx context.Context, id string) (*Client, error)
}

// CredentialStoreFunc adapts a function to CredentialStore.
type CredentialStoreFunc func(ctx context.Context, id string) (*Client, error)

// Client implements CredentialStore.
func (f CredentialStoreFunc) Client(ctx context.Context, id string) (*Client, error) {
	return f(ctx, id)
}

var _ CredentialStore = (*MemoryCredentialStore)(nil)

// MemoryCredentialStore is an in-memory CredentialStore holding many
// clients, each of its own account. It is safe for concurrent use.
type MemoryCredentialStore struct {
	mu      sync.RWMutex
	clients map[string]*Client
}

// NewMemoryCredentialStore returns a store holding clients.
func NewMemoryCredentialStore(clients ...*Client) *MemoryCredentialStore {
	s := &MemoryCredentialStore{clients: make(map[string]*Client)}
	for _, c := range clients {
		s.clients[c.ID] = c
	}
	return s
}

// Add stores c, replacing a client of the same id.
func (s *MemoryCredentialStore) Add(c *Client) {
	s.mu.Lock()
	s.clients[c.ID] = c
	s.mu.Unlock()
}

// Remove deletes the client id.
func (s *MemoryCredentialStore) Remove(id string) {
	s.mu.Lock()
	delete(s.clients, id)
	s.mu.Unlock()
}

// Client implements CredentialStore.
func (s *MemoryCredentialStore) Client(_ context.Context, id string) (*Client, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, ErrInvalidClient
	}
	return c, nil
}

// dummyClient absorbs the secret comparison for unknown ids, so the time a
// failed attempt takes does not tell whether the id exists.
var dummyClient = &Client{}

// Authenticate checks id and secret against store and returns the client.
// Unknown ids and wrong secrets both return ErrInvalidClient after the same work.
func Authenticate(ctx context.Context, store CredentialStore, id, secret string) (*Client, error) {
	return authenticate(ctx, store, id, secret, secret)
}

// authenticate is Authenticate accepting either of two readings of the
// secret (see basicCredentials), compared with equal work.
func authenticate(ctx context.Context, store CredentialStore, id, raw, decoded string) (*Client, error) {
	c, err := store.Client(ctx, id)
	if err != nil && !errors.Is(err, ErrInvalidClient) {
		return nil, err
	}
	if c == nil {
		dummyClient.checkEither(raw, decoded)
		return nil, ErrInvalidClient
	}
	if !c.checkEither(raw, decoded) {
		return nil, ErrInvalidClient
	}
	return c, nil
}

// validAPIScope reports whether s can be an API scope of a client.
func validAPIScope(s string) bool {
	if s == "" || len(s) > 64 || strings.ContainsAny(s, "?&") {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r > '~' {
			return false
		}
	}
	switch s {
	case CapOutgoing, CapIncoming, CapRoomJoin, CapPublish, CapData:
		return false
	}
	return true
}
