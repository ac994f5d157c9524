package auth

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"
)

// Defaults of IssuerConfig and VerifierConfig.
const (
	DefaultIssuer   = "switchboard"
	DefaultAudience = "switchboard"
	DefaultTTL      = 10 * time.Minute
	MaxTTL          = 24 * time.Hour
	DefaultSkew     = 30 * time.Second
	// MaxTokenSize bounds the compact token a Verifier will look at.
	MaxTokenSize = 8 << 10
)

// wireClaims is the JSON payload of a token.
type wireClaims struct {
	Subject   string   `json:"sub"`
	ID        string   `json:"jti"`
	Issuer    string   `json:"iss"`
	Audience  audience `json:"aud"`
	IssuedAt  *int64   `json:"iat"`
	NotBefore *int64   `json:"nbf,omitempty"`
	Expiry    *int64   `json:"exp"`
	Account   string   `json:"acct,omitempty"`
	PID       string   `json:"pid,omitempty"`
	Name      string   `json:"name,omitempty"`
	Scope     string   `json:"scope,omitempty"`
	Grants    Grants   `json:"grants"`
	SingleUse bool     `json:"once,omitempty"`
}

// audience decodes "aud" as a string or an array of strings (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

// IssuerConfig configures an Issuer. The zero value of every field but Keys
// takes the documented default.
type IssuerConfig struct {
	// Keys signs (required).
	Keys *KeySet
	// Issuer is the "iss" claim. Default DefaultIssuer.
	Issuer string
	// Audience is the "aud" claim. Default [DefaultAudience].
	Audience []string
	// DefaultTTL is the lifetime of a token whose request names none. Default 10 min.
	DefaultTTL time.Duration
	// MaxTTL caps every lifetime; longer requests are refused. Default and ceiling 24 h.
	MaxTTL time.Duration
	// Clock dates the tokens (iat, nbf, exp). Default: the real clock.
	Clock Clock
}

// Issuer mints tokens. It is safe for concurrent use.
type Issuer struct {
	cfg IssuerConfig
}

// NewIssuer validates cfg and returns an Issuer.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	if cfg.Keys == nil {
		return nil, errors.New("auth: IssuerConfig.Keys is required")
	}
	cfg.Issuer = cmp.Or(cfg.Issuer, DefaultIssuer)
	if len(cfg.Audience) == 0 {
		cfg.Audience = []string{DefaultAudience}
	}
	cfg.MaxTTL = cmp.Or(cfg.MaxTTL, MaxTTL)
	if cfg.MaxTTL < 0 || cfg.MaxTTL > MaxTTL {
		return nil, fmt.Errorf("auth: MaxTTL must be in (0, %s]", MaxTTL)
	}
	cfg.DefaultTTL = cmp.Or(cfg.DefaultTTL, min(DefaultTTL, cfg.MaxTTL))
	if cfg.DefaultTTL < 0 || cfg.DefaultTTL > cfg.MaxTTL {
		return nil, errors.New("auth: DefaultTTL must be in (0, MaxTTL]")
	}
	cfg.Clock = clockOr(cfg.Clock)
	return &Issuer{cfg: cfg}, nil
}

// MaxTTL returns the longest lifetime this issuer grants.
func (i *Issuer) MaxTTL() time.Duration { return i.cfg.MaxTTL }

// TokenRequest is what a token is minted from.
type TokenRequest struct {
	// Identity becomes "sub"; it must follow the identity rule unless
	// Capabilities name it.
	Identity    string
	DisplayName string
	Account     string
	// ParticipantID ties the token to a rooms participant ("pid").
	ParticipantID string
	Grants        Grants
	// Capabilities are capability strings (see ParseCapabilities); they add
	// their grants to Grants and may name the identity (which must then agree
	// with Identity, if set).
	Capabilities []string
	// Scope is the OAuth2 scope (API access tokens).
	Scope string
	// TTL is the lifetime; 0 means the default, more than MaxTTL is refused.
	TTL time.Duration
	// SingleUse tokens are accepted once by a Verifier with a ReplayCache.
	SingleUse bool
}

// Mint signs a token for req with the current key and returns it with its claims.
func (i *Issuer) Mint(_ context.Context, req TokenRequest) (string, *Claims, error) {
	g := req.Grants
	identity := req.Identity
	if len(req.Capabilities) > 0 {
		capID, capGrants, err := parseCapabilities(req.Capabilities)
		if err != nil {
			return "", nil, err
		}
		if identity != "" && capID != "" && identity != capID {
			return "", nil, fmt.Errorf("%w: identity differs from the capabilities' identity", ErrInvalidClaims)
		}
		if capID != "" {
			identity = capID
		}
		g = mergeGrants(g, capGrants)
	}
	if !ValidIdentity(identity) {
		return "", nil, ErrInvalidIdentity
	}
	if err := validateGrants(g); err != nil {
		return "", nil, err
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = i.cfg.DefaultTTL
	}
	if ttl < time.Second || ttl > i.cfg.MaxTTL {
		return "", nil, fmt.Errorf("%w: lifetime must be between 1s and %s", ErrInvalidClaims, i.cfg.MaxTTL)
	}
	jti := rand.Text()
	now := i.cfg.Clock.Now().Truncate(time.Second)
	c := &Claims{
		Subject: identity, ID: jti, Issuer: i.cfg.Issuer, Audience: slices.Clone(i.cfg.Audience),
		IssuedAt: now, NotBefore: now, Expiry: now.Add(ttl),
		Account: req.Account, ParticipantID: req.ParticipantID, DisplayName: req.DisplayName, Scope: req.Scope, Grants: g, SingleUse: req.SingleUse,
	}
	iat, exp := now.Unix(), c.Expiry.Unix()
	payload, err := json.Marshal(wireClaims{
		Subject: c.Subject, ID: c.ID, Issuer: c.Issuer, Audience: c.Audience,
		IssuedAt: &iat, NotBefore: &iat, Expiry: &exp,
		Account: c.Account, PID: c.ParticipantID, Name: c.DisplayName, Scope: c.Scope, Grants: g, SingleUse: c.SingleUse,
	})
	if err != nil {
		return "", nil, err
	}
	key := i.cfg.Keys.Current()
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, key.id); err != nil {
		return "", nil, err
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", nil, err
	}
	tok, err := jws.Sign(payload, jws.WithKey(key.jalg, key.private, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", nil, fmt.Errorf("auth: sign: %w", err)
	}
	return string(tok), c, nil
}

func validateGrants(g Grants) error {
	if len(g.Publish) > 2 || len(g.Rooms) > 100 {
		return fmt.Errorf("%w: too many publish or room grants", ErrInvalidClaims)
	}
	for _, r := range g.Rooms {
		if !ValidRoomName(r) {
			return fmt.Errorf("%w: room grants are 1-%d characters without control characters or bidirectional overrides", ErrInvalidClaims, MaxRoomNameLength)
		}
	}
	for _, m := range g.Publish {
		if m != MediaAudio && m != MediaVideo {
			return fmt.Errorf("%w: publish grant %q", ErrInvalidClaims, string(m))
		}
	}
	switch g.Recording {
	case "", RecordingDisabled, RecordingAlways, RecordingOnDemand:
	default:
		return fmt.Errorf("%w: recording option %q", ErrInvalidClaims, string(g.Recording))
	}
	return nil
}

// mergeGrants returns a with everything b grants added (recording and admin
// come from a only).
func mergeGrants(a, b Grants) Grants {
	a.Outgoing = a.Outgoing || b.Outgoing
	a.Incoming = a.Incoming || b.Incoming
	a.Data = a.Data || b.Data
	a.Rooms = slices.Clone(a.Rooms)
	for _, r := range b.Rooms {
		if !slices.Contains(a.Rooms, r) {
			a.Rooms = append(a.Rooms, r)
		}
	}
	a.Publish = slices.Clone(a.Publish)
	for _, m := range b.Publish {
		if !slices.Contains(a.Publish, m) {
			a.Publish = append(a.Publish, m)
		}
	}
	return a
}

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Keys verifies (required). A token must name one of its keys in "kid"
	// and carry exactly that key's algorithm.
	Keys *KeySet
	// Issuer is the required "iss". Default DefaultIssuer.
	Issuer string
	// Audience must be among the token's "aud". Default DefaultAudience.
	Audience string
	// Skew is the clock skew allowed on exp, nbf and iat. Default 30 s.
	Skew time.Duration
	// Replay, when set, refuses revoked jti values and second uses of
	// single-use tokens. Nil: no revocation, and single-use tokens are refused.
	Replay ReplayCache
	// Clock is what exp, nbf and iat are checked against. Default: the real clock.
	Clock Clock
}

// Verifier checks tokens. It is safe for concurrent use.
type Verifier struct {
	cfg VerifierConfig
}

// NewVerifier validates cfg and returns a Verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.Keys == nil {
		return nil, errors.New("auth: VerifierConfig.Keys is required")
	}
	cfg.Issuer = cmp.Or(cfg.Issuer, DefaultIssuer)
	cfg.Audience = cmp.Or(cfg.Audience, DefaultAudience)
	cfg.Skew = cmp.Or(cfg.Skew, DefaultSkew)
	if cfg.Skew < 0 || cfg.Skew > 10*time.Minute {
		return nil, errors.New("auth: Skew must be in [0, 10m]")
	}
	cfg.Clock = clockOr(cfg.Clock)
	return &Verifier{cfg: cfg}, nil
}

type jwsHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// Verify checks token's signature, algorithm, times, issuer, audience,
// identity and (with a ReplayCache) revocation and single use, and returns
// its claims. Errors wrap the package's sentinels; the token's content never
// appears in them.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	return v.verify(ctx, token, true)
}

// VerifyPresented is Verify for a token that another node of the same
// deployment has already verified and relayed (calling's cluster relay): it
// checks the signature, the times and revocation as Verify does, but does
// not use up a single-use token a second time. Call it only for requests
// whose relay is authenticated; a token straight from a client goes to
// Verify.
func (v *Verifier) VerifyPresented(ctx context.Context, token string) (*Claims, error) {
	return v.verify(ctx, token, false)
}

func (v *Verifier) verify(ctx context.Context, token string, consume bool) (*Claims, error) {
	if len(token) == 0 || len(token) > MaxTokenSize || strings.Count(token, ".") != 2 {
		return nil, fmt.Errorf("%w: not a compact JWS of acceptable size", ErrInvalidToken)
	}
	rawHdr, _, _ := strings.Cut(token, ".")
	hb, err := base64.RawURLEncoding.DecodeString(rawHdr)
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url", ErrInvalidToken)
	}
	var hdr jwsHeader
	dec := json.NewDecoder(bytes.NewReader(hb))
	if err := dec.Decode(&hdr); err != nil {
		return nil, fmt.Errorf("%w: header is not JSON", ErrInvalidToken)
	}
	if hdr.Crit != nil {
		return nil, fmt.Errorf("%w: crit header not supported", ErrInvalidToken)
	}
	key, ok := v.cfg.Keys.Lookup(hdr.Kid)
	if !ok {
		return nil, ErrUnknownKey
	}
	if hdr.Alg != string(key.alg) {
		return nil, fmt.Errorf("%w: algorithm %q not allowed for this key", ErrInvalidToken, hdr.Alg)
	}
	payload, err := jws.VerifyCompactFast(key.public, []byte(token), key.jalg)
	if err != nil {
		return nil, fmt.Errorf("%w: signature", ErrInvalidToken)
	}
	var wc wireClaims
	if err := json.Unmarshal(payload, &wc); err != nil {
		return nil, fmt.Errorf("%w: claims are not valid JSON", ErrInvalidToken)
	}
	c, err := v.validate(&wc)
	if err != nil {
		return nil, err
	}
	if err := v.checkReplay(ctx, c, consume); err != nil {
		return nil, err
	}
	return c, nil
}

func (v *Verifier) validate(wc *wireClaims) (*Claims, error) {
	if wc.Expiry == nil || wc.IssuedAt == nil {
		return nil, fmt.Errorf("%w: exp and iat are required", ErrInvalidToken)
	}
	if wc.ID == "" {
		return nil, fmt.Errorf("%w: jti is required", ErrInvalidToken)
	}
	if wc.Issuer != v.cfg.Issuer {
		return nil, fmt.Errorf("%w: issuer", ErrInvalidToken)
	}
	if !slices.Contains(wc.Audience, v.cfg.Audience) {
		return nil, fmt.Errorf("%w: audience", ErrInvalidToken)
	}
	now := v.cfg.Clock.Now()
	exp := time.Unix(*wc.Expiry, 0)
	iat := time.Unix(*wc.IssuedAt, 0)
	nbf := iat
	if wc.NotBefore != nil {
		nbf = time.Unix(*wc.NotBefore, 0)
	}
	if !now.Before(exp.Add(v.cfg.Skew)) {
		return nil, ErrExpired
	}
	if now.Add(v.cfg.Skew).Before(nbf) || now.Add(v.cfg.Skew).Before(iat) {
		return nil, ErrNotYetValid
	}
	if exp.Sub(iat) > MaxTTL {
		return nil, fmt.Errorf("%w: lifetime over 24h", ErrInvalidToken)
	}
	if !ValidIdentity(wc.Subject) {
		return nil, ErrInvalidIdentity
	}
	if err := validateGrants(wc.Grants); err != nil {
		return nil, fmt.Errorf("%w: grants", ErrInvalidToken)
	}
	return &Claims{
		Subject: wc.Subject, ID: wc.ID, Issuer: wc.Issuer, Audience: wc.Audience,
		IssuedAt: iat, NotBefore: nbf, Expiry: exp, Account: wc.Account, ParticipantID: wc.PID, DisplayName: wc.Name,
		Scope: wc.Scope, Grants: wc.Grants, SingleUse: wc.SingleUse,
	}, nil
}

func (v *Verifier) checkReplay(ctx context.Context, c *Claims, consume bool) error {
	if v.cfg.Replay == nil {
		if c.SingleUse {
			return fmt.Errorf("%w: single-use token but no replay cache configured", ErrInvalidToken)
		}
		return nil
	}
	revoked, err := v.cfg.Replay.Revoked(ctx, RevocationKey(c.Account, c.ID))
	if err != nil {
		return fmt.Errorf("auth: replay cache: %w", err)
	}
	if revoked {
		return ErrRevoked
	}
	if c.SingleUse && consume {
		first, err := v.cfg.Replay.Use(ctx, c.ID, c.Expiry.Add(v.cfg.Skew))
		if err != nil {
			return fmt.Errorf("auth: replay cache: %w", err)
		}
		if !first {
			return ErrReplayed
		}
	}
	return nil
}
