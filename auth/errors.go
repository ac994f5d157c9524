package auth

import (
	"errors"
	"net/http"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/httpx"
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

// rateLimitedError is a Basic attempt refused by the failure limits.
type rateLimitedError struct{ wait time.Duration }

func (e *rateLimitedError) Error() string { return "auth: too many failed attempts" }

// HTTPStatus maps an error of this package to an HTTP status and the
// stable code and message of the REST error body {"code","message"}. The
// message is fixed text for each code, so nothing of a token or a secret is
// ever echoed; only an ErrInvalidClaims error says what was wrong with the
// request. A shared store that cannot be reached (an error with
// Unavailable() bool true, as adapters/redis returns) is 503
// store_unavailable. An error of no other package is 500 internal_error.
func HTTPStatus(err error) (status int, code, message string) {
	switch {
	case httpx.Unavailable(err):
		return httpx.StoreUnavailable()
	case errors.Is(err, ErrNoCredentials):
		return http.StatusUnauthorized, "unauthorized", "credentials are required"
	case errors.Is(err, ErrExpired):
		return http.StatusUnauthorized, "token_expired", "the token has expired; get a new one"
	case errors.Is(err, ErrRevoked), errors.Is(err, ErrReplayed):
		return http.StatusUnauthorized, "token_revoked", "the token has been revoked or already used"
	case errors.Is(err, ErrInvalidClient):
		return http.StatusUnauthorized, "invalid_client", "client authentication failed"
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrUnknownKey), errors.Is(err, ErrNotYetValid):
		return http.StatusUnauthorized, "invalid_token", "the token is not valid"
	case errors.Is(err, ErrMissingGrant):
		return http.StatusForbidden, "forbidden", "the credentials lack a grant this route requires"
	case errors.Is(err, ErrInvalidIdentity):
		return http.StatusBadRequest, "invalid_identity", "identity not acceptable: 3-64 ASCII letters, digits or - _ + = / ."
	case errors.Is(err, ErrInvalidClaims):
		return http.StatusBadRequest, "invalid_claims", err.Error()
	case errors.Is(err, ErrReplayCacheFull):
		return http.StatusServiceUnavailable, "replay_cache_full", "try again later"
	}
	return http.StatusInternalServerError, "internal_error", "internal error"
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
