package auth

import (
	"errors"
	"fmt"
	"net/http"
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
	// are limited like the token endpoint's (10 per address and 10 per
	// client id per minute; then 429).
	Credentials CredentialStore
	// AllowQueryToken accepts the token in the access_token query parameter
	// (for WebSocket upgrades from browsers, which cannot set headers).
	// Off by default: URLs end up in logs.
	AllowQueryToken bool
	// Require lists grants every request must carry (403 forbidden otherwise).
	Require []Grant
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

// NewMiddleware is Middleware with every option.
func NewMiddleware(cfg MiddlewareConfig) func(http.Handler) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	limits := basicLimits{
		byAddr:   newFailureLimiter(DefaultMaxFailures, DefaultFailureWindow, cfg.Now),
		byClient: newFailureLimiter(DefaultMaxFailures, DefaultFailureWindow, cfg.Now),
	}
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

var errRateLimited = errors.New("auth: too many failed attempts")

type basicLimits struct{ byAddr, byClient *failureLimiter }

func (cfg *MiddlewareConfig) authenticate(r *http.Request, limits basicLimits) (*Claims, error) {
	h := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer") && cred != "":
		return cfg.Verifier.Verify(r.Context(), strings.TrimSpace(cred))
	case strings.EqualFold(scheme, "Basic") && cfg.Credentials != nil:
		addr := remoteHost(r)
		id, secret, ok := basicCredentials(r)
		if !ok {
			return nil, ErrInvalidClient
		}
		if blocked, _ := limits.byAddr.blocked(addr); blocked {
			return nil, errRateLimited
		}
		if blocked, _ := limits.byClient.blocked(id); blocked {
			return nil, errRateLimited
		}
		client, err := Authenticate(r.Context(), cfg.Credentials, id, secret)
		if err != nil {
			if errors.Is(err, ErrInvalidClient) {
				limits.byAddr.fail(addr)
				limits.byClient.fail(id)
			}
			return nil, err
		}
		return &Claims{Subject: client.ID, Account: client.Account, Scope: strings.Join(client.Scopes, " "), Grants: Grants{Admin: true}}, nil
	case h == "" && cfg.AllowQueryToken && r.URL.Query().Get("access_token") != "":
		return cfg.Verifier.Verify(r.Context(), r.URL.Query().Get("access_token"))
	case h == "":
		return nil, ErrNoCredentials
	}
	return nil, fmt.Errorf("%w: unsupported Authorization scheme", ErrInvalidToken)
}

func writeAuthError(w http.ResponseWriter, err error) {
	if errors.Is(err, errRateLimited) {
		w.Header().Set("Retry-After", "60")
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
		return "identity not acceptable: 3-64 letters, digits or - _ + = / ."
	case "replay_cache_full":
		return "try again later"
	}
	return "internal error"
}
