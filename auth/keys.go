package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// Algorithm is a JWS signature algorithm a Key signs with.
type Algorithm string

// The supported algorithms. ES256 is the default.
const (
	ES256 Algorithm = "ES256"
	EdDSA Algorithm = "EdDSA"
	HS256 Algorithm = "HS256"
)

func (a Algorithm) jwa() (jwa.SignatureAlgorithm, error) {
	switch a {
	case ES256:
		return jwa.ES256(), nil
	case EdDSA:
		return jwa.EdDSA(), nil
	case HS256:
		return jwa.HS256(), nil
	}
	return jwa.EmptySignatureAlgorithm(), fmt.Errorf("auth: unsupported algorithm %q", string(a))
}

// Key is one signing key: its id (the JWS "kid"), its algorithm, the private
// (or, for HS256, secret) key and the key that verifies. A Key is immutable
// and safe for concurrent use.
type Key struct {
	id      string
	alg     Algorithm
	jalg    jwa.SignatureAlgorithm
	private any // *ecdsa.PrivateKey, ed25519.PrivateKey or []byte
	public  any // *ecdsa.PublicKey, ed25519.PublicKey or []byte
}

// ID returns the key id written as "kid" in every token it signs.
func (k *Key) ID() string { return k.id }

// Algorithm returns the only algorithm tokens signed by this key may carry.
func (k *Key) Algorithm() Algorithm { return k.alg }

// Public returns the verifying key: *ecdsa.PublicKey or ed25519.PublicKey
// (nil for HS256, whose secret is never published).
func (k *Key) Public() crypto.PublicKey {
	if k.alg == HS256 {
		return nil
	}
	return k.public
}

// GenerateKey makes a fresh key for alg (ES256 on P-256, EdDSA on Ed25519,
// or a 32-byte HS256 secret). Its kid is the RFC 7638 thumbprint of the
// public key (random for HS256).
func GenerateKey(alg Algorithm) (*Key, error) {
	switch alg {
	case ES256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		return newAsymmetricKey(ES256, priv, &priv.PublicKey)
	case EdDSA:
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return newAsymmetricKey(EdDSA, priv, pub)
	case HS256:
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		return NewHMACKey(secret)
	}
	return nil, fmt.Errorf("auth: unsupported algorithm %q", string(alg))
}

// NewHMACKey wraps a shared secret of at least 32 bytes as an HS256 key.
// Its kid is derived from the secret by a one-way hash, so every node given
// the same secret names it the same way.
func NewHMACKey(secret []byte) (*Key, error) {
	if len(secret) < 32 {
		return nil, errors.New("auth: HS256 secret must be at least 32 bytes")
	}
	sum := sha256.Sum256(append([]byte("switchboard-kid:"), secret...))
	s := append([]byte(nil), secret...)
	return &Key{id: "hs-" + hex.EncodeToString(sum[:8]), alg: HS256, jalg: jwa.HS256(), private: s, public: s}, nil
}

// ParsePrivateKeyPEM loads a PKCS#8 ("PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY")
// PEM block holding a P-256 ECDSA key (ES256) or an Ed25519 key (EdDSA).
// The kid is the key's RFC 7638 thumbprint, stable across nodes and restarts.
func ParsePrivateKeyPEM(data []byte) (*Key, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("auth: no PEM block found")
	}
	var parsed any
	var err error
	switch block.Type {
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("auth: unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: parse private key: %w", err)
	}
	switch k := parsed.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("auth: ECDSA key must be on P-256 for ES256")
		}
		return newAsymmetricKey(ES256, k, &k.PublicKey)
	case ed25519.PrivateKey:
		return newAsymmetricKey(EdDSA, k, k.Public())
	}
	return nil, fmt.Errorf("auth: unsupported private key type %T", parsed)
}

// MarshalPrivateKeyPEM encodes k's private key as PKCS#8 PEM (not for HS256).
func MarshalPrivateKeyPEM(k *Key) ([]byte, error) {
	if k.alg == HS256 {
		return nil, errors.New("auth: HS256 keys have no PEM form")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.private)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func newAsymmetricKey(alg Algorithm, priv, pub any) (*Key, error) {
	jk, err := jwk.Import(pub)
	if err != nil {
		return nil, err
	}
	tp, err := jk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	jalg, err := alg.jwa()
	if err != nil {
		return nil, err
	}
	return &Key{id: base64.RawURLEncoding.EncodeToString(tp), alg: alg, jalg: jalg, private: priv, public: pub}, nil
}

// KeySetConfig configures a KeySet.
type KeySetConfig struct {
	// Current is the signing key (required).
	Current *Key
	// Clock decides when a retired key stops verifying. Default: the real clock.
	Clock Clock
}

// KeySet holds the current signing key and the retired keys that still
// verify. Rotate installs a new signing key; the previous one keeps verifying
// until its grace period (at least the longest token lifetime) has passed.
// A KeySet is safe for concurrent use.
type KeySet struct {
	clock Clock

	mu      sync.RWMutex
	current *Key
	retired []retiredKey
}

type retiredKey struct {
	key   *Key
	until time.Time
}

// NewKeySet returns a set whose signing key is cfg.Current.
func NewKeySet(cfg KeySetConfig) (*KeySet, error) {
	if cfg.Current == nil {
		return nil, errors.New("auth: KeySetConfig.Current is required")
	}
	return &KeySet{current: cfg.Current, clock: clockOr(cfg.Clock)}, nil
}

// Rotate makes next the signing key. The previous key keeps verifying for
// grace (use at least the maximum token lifetime) and is then dropped.
func (s *KeySet) Rotate(next *Key, grace time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.retired = append(s.prune(now), retiredKey{key: s.current, until: now.Add(grace)})
	s.current = next
}

// prune drops expired retired keys; s.mu must be held for writing.
func (s *KeySet) prune(now time.Time) []retiredKey {
	kept := s.retired[:0]
	for _, r := range s.retired {
		if now.Before(r.until) {
			kept = append(kept, r)
		}
	}
	return kept
}

// Current returns the signing key.
func (s *KeySet) Current() *Key {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.current
}

// Lookup returns the key named kid if it may still verify.
func (s *KeySet) Lookup(kid string) (*Key, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.current.id == kid {
		return s.current, true
	}
	now := s.clock.Now()
	for _, r := range s.retired {
		if r.key.id == kid && now.Before(r.until) {
			return r.key, true
		}
	}
	return nil, false
}

// verifying returns every key that may verify now, current first.
func (s *KeySet) verifying() []*Key {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.clock.Now()
	keys := []*Key{s.current}
	for _, r := range s.retired {
		if now.Before(r.until) {
			keys = append(keys, r.key)
		}
	}
	return keys
}

// JWKS returns the JSON Web Key Set of the public keys that may verify now
// (HS256 secrets are never published). Each key carries kid, alg and use=sig.
func (s *KeySet) JWKS() ([]byte, error) {
	set := jwk.NewSet()
	for _, k := range s.verifying() {
		if k.alg == HS256 {
			continue
		}
		jk, err := jwk.Import(k.public)
		if err != nil {
			return nil, err
		}
		for name, v := range map[string]any{jwk.KeyIDKey: k.id, jwk.AlgorithmKey: k.jalg, jwk.KeyUsageKey: "sig"} {
			if err := jk.Set(name, v); err != nil {
				return nil, err
			}
		}
		if err := set.AddKey(jk); err != nil {
			return nil, err
		}
	}
	return json.Marshal(set)
}

// JWKSHandler serves JWKS() at GET (and HEAD) with a short public cache
// lifetime, for mounting at /.well-known/jwks.json.
func (s *KeySet) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpx.WriteError(w, httpx.Errorf(http.StatusMethodNotAllowed, "method_not_allowed", "use GET"))
			return
		}
		body, err := s.JWKS()
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(body)
	})
}
