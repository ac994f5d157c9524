package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// MiddlewareConfig configures NewMiddleware.
type MiddlewareConfig struct {
	// Verifier checks Bearer tokens (required).
	Verifier *Verifier
	// Credentials, when set, also accepts HTTP Basic with API credentials;
	// such a caller acts as an admin of its account. Failed Basic attempts
	// are limited like the token endpoint's (see TokenHandlerConfig.MaxFailures):
	// a correct secret always succeeds from an address that is not blocked.
	Credentials CredentialStore
	// AllowQueryToken accepts the token in the access_token query parameter
	// (for WebSocket upgrades from browsers, which cannot set headers).
	// Off by default: URLs end up in logs. See TokenFromRequest.
	AllowQueryToken bool
	// Require lists grants every request must carry (403 forbidden otherwise).
	Require []Grant
	// MaxFailures and FailureWindow limit failed Basic attempts as the token
	// endpoint does. Defaults 10 and 1 min.
	MaxFailures   int
	FailureWindow time.Duration
	// ClientAddr returns the address failed Basic attempts are limited by.
	// Default: the host part of r.RemoteAddr.
	ClientAddr func(r *http.Request) string
	// Clock times the Basic failure windows. Default: the real clock.
	Clock Clock
}

// Middleware returns middleware that admits requests with a valid Bearer
// token holding every grant in require, and puts its claims in the request
// context (read them with FromContext). Other requests get 401 or 403 with
// a JSON {"code","message"} body.
func Middleware(v *Verifier, require ...Grant) func(http.Handler) http.Handler {
	return NewMiddleware(MiddlewareConfig{Verifier: v, Require: require})
}

// NewMiddleware is Middleware with every option. A negative MaxFailures or
// FailureWindow is taken as the default.
func NewMiddleware(cfg MiddlewareConfig) func(http.Handler) http.Handler {
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	if cfg.FailureWindow <= 0 {
		cfg.FailureWindow = DefaultFailureWindow
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = remoteHost
	}
	limits := newFailureLimits(cfg.MaxFailures, cfg.FailureWindow, clockOr(cfg.Clock))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := cfg.authenticate(r, limits)
			if err == nil {
				for _, g := range cfg.Require {
					if !c.Grants.Has(g) {
						err = fmt.Errorf("%w: %s", ErrMissingGrant, g)
						break
					}
				}
			}
			if err != nil {
				writeAuthError(w, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), c)))
		})
	}
}

func (cfg *MiddlewareConfig) authenticate(r *http.Request, limits failureLimits) (*Claims, error) {
	h := r.Header.Get("Authorization")
	scheme, _, _ := strings.Cut(h, " ")
	if strings.EqualFold(scheme, "Basic") && cfg.Credentials != nil {
		addr := cfg.ClientAddr(r)
		if blocked, wait := limits.addrBlocked(addr); blocked {
			return nil, &rateLimitedError{wait}
		}
		id, raw, decoded, ok := basicCredentials(r)
		if !ok {
			return nil, ErrInvalidClient
		}
		client, err := authenticate(r.Context(), cfg.Credentials, id, raw, decoded)
		if err != nil {
			if errors.Is(err, ErrInvalidClient) {
				if limited, wait := limits.failed(addr, id); limited {
					return nil, &rateLimitedError{wait}
				}
			}
			return nil, err
		}
		return &Claims{Subject: client.ID, Account: client.Account, Scope: strings.Join(client.Scopes, " "), Grants: Grants{Admin: true}}, nil
	}
	if tok, ok := TokenFromRequest(r, cfg.AllowQueryToken); ok {
		return cfg.Verifier.Verify(r.Context(), tok)
	}
	if h == "" && (!cfg.AllowQueryToken || !r.URL.Query().Has("access_token")) {
		return nil, ErrNoCredentials
	}
	return nil, fmt.Errorf("%w: unsupported Authorization scheme or more than one token", ErrInvalidToken)
}

// AdminAccount returns the account of a request's caller when the caller
// is an admin of it (the Claims that Middleware, or the host's own check,
// put in the request context), and an error wrapping ErrMissingGrant
// otherwise (403 forbidden through HTTPStatus). It is the one admission
// check of every Switchboard REST API.
func AdminAccount(r *http.Request) (account string, err error) {
	c, ok := FromContext(r.Context())
	if !ok || !c.IsAdmin() {
		return "", fmt.Errorf("%w: admin", ErrMissingGrant)
	}
	return c.Account, nil
}

// UserAccount returns the account of a request's caller when the caller is
// a user: the Claims in the request context name an account and a valid
// identity and carry no admin grant. A request without Claims is an error
// wrapping ErrNoCredentials (401 unauthorized through HTTPStatus); admin
// tokens and API credentials, which name no user, and claims without an
// account or a valid identity are an error wrapping ErrMissingGrant (403
// forbidden). It is the admission check of the REST routes a user calls
// with its own token (push's devices API); the identity is the Claims'
// Subject.
func UserAccount(r *http.Request) (account string, err error) {
	c, ok := FromContext(r.Context())
	switch {
	case !ok:
		return "", fmt.Errorf("%w: a user token is required", ErrNoCredentials)
	case c.IsAdmin() || c.Account == "" || !ValidIdentity(c.Subject):
		return "", fmt.Errorf("%w: a user token (not admin or API credentials)", ErrMissingGrant)
	}
	return c.Account, nil
}

func writeAuthError(w http.ResponseWriter, err error) {
	var rl *rateLimitedError
	if errors.As(err, &rl) {
		secs := int64((rl.wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
		httpx.WriteError(w, httpx.Errorf(http.StatusTooManyRequests, "rate_limited", "too many failed attempts; retry later"))
		return
	}
	status, code, msg := HTTPStatus(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard", error="invalid_token"`)
	}
	httpx.WriteError(w, httpx.Errorf(status, code, "%s", msg))
}
