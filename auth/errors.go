package auth

import (
	"errors"
	"net/http"
)

// Sentinel errors. Verification failures wrap one of these, so callers test
// them with errors.Is; HTTPStatus and SignalCode map them for the wire.
var (
	// ErrInvalidToken is any token that is malformed, badly signed, signed
	// with an algorithm its key does not allow, or has wrong iss/aud.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrUnknownKey is a token whose kid names no key of the KeySet.
	ErrUnknownKey = errors.New("auth: unknown signing key")
	// ErrExpired is a token past its exp (beyond the allowed skew).
	ErrExpired = errors.New("auth: token expired")
	// ErrNotYetValid is a token whose nbf or iat lies in the future (beyond the skew).
	ErrNotYetValid = errors.New("auth: token not yet valid")
	// ErrRevoked is a token whose jti has been revoked.
	ErrRevoked = errors.New("auth: token revoked")
	// ErrReplayed is a single-use token presented a second time.
	ErrReplayed = errors.New("auth: single-use token already used")
	// ErrInvalidIdentity is an identity that breaks the identity rule
	// (3–64 of ASCII letters, digits and - _ + = / .). Signaling reports it as 406.
	ErrInvalidIdentity = errors.New("auth: identity not acceptable")
	// ErrInvalidClaims is a mint request with bad grants, capabilities or lifetime.
	ErrInvalidClaims = errors.New("auth: invalid claims")
	// ErrMissingGrant is a valid token that lacks a grant the route requires.
	ErrMissingGrant = errors.New("auth: missing grant")
	// ErrNoCredentials is a request that carries no credentials at all.
	ErrNoCredentials = errors.New("auth: no credentials")
	// ErrInvalidClient is an unknown API client or a wrong secret.
	ErrInvalidClient = errors.New("auth: invalid client credentials")
	// ErrReplayCacheFull is returned when the replay cache is at its bound
	// and cannot record a single-use token; the token is refused (fail closed).
	ErrReplayCacheFull = errors.New("auth: replay cache full")
)

// HTTPStatus maps an error of this package to an HTTP status and a stable
// error code for the REST API body {"code","message"}.
func HTTPStatus(err error) (status int, code string) {
	switch {
	case errors.Is(err, ErrNoCredentials):
		return http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, ErrExpired):
		return http.StatusUnauthorized, "token_expired"
	case errors.Is(err, ErrRevoked), errors.Is(err, ErrReplayed):
		return http.StatusUnauthorized, "token_revoked"
	case errors.Is(err, ErrInvalidClient):
		return http.StatusUnauthorized, "invalid_client"
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrUnknownKey), errors.Is(err, ErrNotYetValid):
		return http.StatusUnauthorized, "invalid_token"
	case errors.Is(err, ErrMissingGrant):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, ErrInvalidIdentity):
		return http.StatusBadRequest, "invalid_identity"
	case errors.Is(err, ErrInvalidClaims):
		return http.StatusBadRequest, "invalid_claims"
	case errors.Is(err, ErrReplayCacheFull):
		return http.StatusServiceUnavailable, "replay_cache_full"
	}
	return http.StatusInternalServerError, "internal_error"
}

// SignalCode maps an error of this package to a signaling error code
// (docs/protocol.md): 403 token expired or invalid, 406 identity not
// acceptable, 500 internal.
func SignalCode(err error) int {
	switch {
	case errors.Is(err, ErrInvalidIdentity):
		return 406
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrUnknownKey), errors.Is(err, ErrExpired),
		errors.Is(err, ErrNotYetValid), errors.Is(err, ErrRevoked), errors.Is(err, ErrReplayed),
		errors.Is(err, ErrNoCredentials), errors.Is(err, ErrMissingGrant):
		return 403
	}
	return 500
}
