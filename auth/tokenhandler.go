package auth

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Defaults of TokenHandlerConfig.
const (
	DefaultAccessTokenTTL = 600 * time.Second
	DefaultMaxFailures    = 10
	DefaultFailureWindow  = time.Minute
	// MaxTokenRequestBody is the largest token request body accepted (413 past it).
	MaxTokenRequestBody = 4 << 10
)

// TokenHandlerConfig configures the OAuth2 token endpoint.
type TokenHandlerConfig struct {
	// Issuer mints the access tokens (required).
	Issuer *Issuer
	// Credentials holds the API clients (required).
	Credentials CredentialStore
	// TTL of an access token. Default 600 s; at most the Issuer's MaxTTL.
	TTL time.Duration
	// MaxFailures failed attempts per remote address are allowed in each
	// FailureWindow; past that the address gets 429 with Retry-After until the
	// window ends. A client id counts failed attempts only: a correct secret
	// always succeeds (from an address that is not blocked), and once the id
	// has had MaxFailures failures in a window, each further failure blocks
	// the failing address for a whole window. Defaults 10 and 1 min.
	MaxFailures   int
	FailureWindow time.Duration
	// Realm is the Basic realm of WWW-Authenticate. Default "switchboard".
	Realm string
	// ClientAddr returns the address a request is rate limited by. Default:
	// the host part of r.RemoteAddr. Behind a proxy, return the client's
	// address from a header only the proxy can set.
	ClientAddr func(r *http.Request) string
	// Logger receives one line per failed attempt (never a secret). Default: discard.
	Logger *slog.Logger
	// Clock times the failure windows. Default: the real clock.
	Clock Clock
}

// TokenHandler is the OAuth2 client-credentials token endpoint (RFC 6749
// §4.4) as Bandwidth's In-App Calling uses it. It is an http.Handler, safe
// for concurrent use; mount it at POST /oauth2/token.
type TokenHandler struct {
	cfg      TokenHandlerConfig
	limits   failureLimits
	counters tokenCounters // Stats (tokenstats.go)
}

var _ http.Handler = (*TokenHandler)(nil)

// NewTokenHandler validates cfg and returns the endpoint.
func NewTokenHandler(cfg TokenHandlerConfig) (*TokenHandler, error) {
	if cfg.Issuer == nil || cfg.Credentials == nil {
		return nil, errors.New("auth: TokenHandlerConfig needs Issuer and Credentials")
	}
	cfg.TTL = cmp.Or(cfg.TTL, min(DefaultAccessTokenTTL, cfg.Issuer.MaxTTL()))
	if cfg.TTL < time.Second || cfg.TTL > cfg.Issuer.MaxTTL() {
		return nil, errors.New("auth: TokenHandlerConfig.TTL must be in [1s, Issuer MaxTTL]")
	}
	cfg.MaxFailures = cmp.Or(cfg.MaxFailures, DefaultMaxFailures)
	cfg.FailureWindow = cmp.Or(cfg.FailureWindow, DefaultFailureWindow)
	if cfg.MaxFailures < 0 || cfg.FailureWindow < 0 {
		return nil, errors.New("auth: MaxFailures and FailureWindow must be positive")
	}
	cfg.Realm = cmp.Or(cfg.Realm, "switchboard")
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = remoteHost
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Clock = clockOr(cfg.Clock)
	return &TokenHandler{cfg: cfg, limits: newFailureLimits(cfg.MaxFailures, cfg.FailureWindow, cfg.Clock)}, nil
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// TokenResponse is the body of a successful token request.
type TokenResponse struct {
	AccessToken   string `json:"access_token"`
	AccessTokenID string `json:"access_token_id"`
	TokenType     string `json:"token_type"`
	ExpiresIn     int64  `json:"expires_in"`
	Scope         string `json:"scope,omitempty"`
}

// oauthError is an RFC 6749 §5.2 error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func (h *TokenHandler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &tokenReply{ResponseWriter: rw}
	defer h.counters.count(w)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "the token endpoint accepts POST only")
		return
	}
	addr := h.cfg.ClientAddr(r)
	if blocked, wait := h.limits.addrBlocked(addr); blocked {
		h.tooMany(w, wait)
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, MaxTokenRequestBody)) // rw: net/http closes the connection after an oversized body
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeOAuthError(w, http.StatusRequestEntityTooLarge, "invalid_request", "request body is larger than 4096 bytes")
			return
		}
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "cannot read request body")
		return
	}
	form, err := parseTokenForm(string(body))
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	id, raw, decoded, ok := basicCredentials(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+h.cfg.Realm+`", charset="UTF-8"`)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication with HTTP Basic is required")
		return
	}
	client, err := authenticate(r.Context(), h.cfg.Credentials, id, raw, decoded)
	if err != nil {
		if !errors.Is(err, ErrInvalidClient) {
			h.cfg.Logger.ErrorContext(r.Context(), "token endpoint: credential store", "err", err)
			writeOAuthError(w, http.StatusInternalServerError, "server_error", "internal error")
			return
		}
		limited, wait := h.limits.failed(addr, id)
		h.cfg.Logger.WarnContext(r.Context(), "token endpoint: client authentication failed", "client_id", id, "addr", addr, "limited", limited)
		if limited {
			h.tooMany(w, wait)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="`+h.cfg.Realm+`", charset="UTF-8"`)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	case "client_credentials":
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "only grant_type=client_credentials is supported")
		return
	}
	req, err := tokenRequestFor(client, form.Get("scope"), form.Has("scope"))
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", err.Error())
		return
	}
	req.TTL = h.cfg.TTL
	tok, claims, err := h.cfg.Issuer.Mint(r.Context(), req)
	if err != nil {
		h.cfg.Logger.ErrorContext(r.Context(), "token endpoint: mint", "err", err)
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "internal error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // the scope's '&' stays readable
	_ = enc.Encode(TokenResponse{
		AccessToken: tok, AccessTokenID: claims.ID, TokenType: "Bearer",
		ExpiresIn: int64(claims.Expiry.Sub(claims.IssuedAt) / time.Second), Scope: claims.Scope,
	})
}

func (h *TokenHandler) tooMany(w http.ResponseWriter, wait time.Duration) {
	secs := int64((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	writeOAuthError(w, http.StatusTooManyRequests, "invalid_request", "too many failed attempts; retry later")
}

// parseTokenForm parses an x-www-form-urlencoded body, refusing repeated
// parameters (RFC 6749 §3.2) and malformed encoding.
func parseTokenForm(body string) (url.Values, error) {
	form, err := url.ParseQuery(body)
	if err != nil {
		return nil, errors.New("malformed form body")
	}
	for k, v := range form {
		if len(v) > 1 {
			return nil, errors.New("parameter " + strconv.Quote(k) + " is repeated")
		}
	}
	return form, nil
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	if r, ok := w.(*tokenReply); ok {
		r.code = code // counted by ServeHTTP
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(oauthError{Error: code, Description: desc})
}
