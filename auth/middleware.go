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
	// Now is the clock of the Basic failure limiter. Default time.Now.
	Now func() time.Time
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	if cfg.FailureWindow <= 0 {
		cfg.FailureWindow = DefaultFailureWindow
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = remoteHost
	}
	limits := newFailureLimits(cfg.MaxFailures, cfg.FailureWindow, cfg.Now)
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

// rateLimitedError is a Basic attempt refused by the failure limits.
type rateLimitedError struct{ wait time.Duration }

func (e *rateLimitedError) Error() string { return "auth: too many failed attempts" }

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

func writeAuthError(w http.ResponseWriter, err error) {
	var rl *rateLimitedError
	if errors.As(err, &rl) {
		secs := int64((rl.wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
		httpx.WriteError(w, httpx.Errorf(http.StatusTooManyRequests, "rate_limited", "too many failed attempts; retry later"))
		return
	}
	status, code := HTTPStatus(err)
	msg := publicMessage(code)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard", error="invalid_token"`)
	}
	httpx.WriteError(w, httpx.Errorf(status, code, "%s", msg))
}

// publicMessage is the message sent for a code: fixed text, so nothing of a
// token or secret is ever echoed.
func publicMessage(code string) string {
	switch code {
	case "unauthorized":
		return "credentials are required"
	case "token_expired":
		return "the token has expired; get a new one"
	case "token_revoked":
		return "the token has been revoked or already used"
	case "invalid_client":
		return "client authentication failed"
	case "invalid_token":
		return "the token is not valid"
	case "forbidden":
		return "the token lacks a grant this route requires"
	case "invalid_identity":
		return "identity not acceptable: 3-64 ASCII letters, digits or - _ + = / ."
	case "replay_cache_full":
		return "try again later"
	}
	return "internal error"
}
