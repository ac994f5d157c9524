package auth

import (
	"errors"
	"net/http"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// MaxTokensAPIBody is the largest body POST /tokens accepts.
const MaxTokensAPIBody = 16 << 10

// UserTokenRequest is the body of POST /tokens.
type UserTokenRequest struct {
	Identity     string   `json:"identity,omitempty" validate:"required_without=Capabilities,max=256"`
	DisplayName  string   `json:"displayName,omitempty" validate:"max=128"`
	Grants       Grants   `json:"grants"`
	Capabilities []string `json:"capabilities,omitempty" validate:"omitempty,max=16,dive,min=1,max=512"`
	// TTL in seconds; 0 or absent means the issuer's default.
	TTL       int64 `json:"ttl,omitempty" validate:"gte=0"`
	SingleUse bool  `json:"singleUse,omitempty"`
}

// UserTokenResponse is the answer of POST /tokens.
type UserTokenResponse struct {
	Token     string    `json:"token"`
	TokenID   string    `json:"tokenId"`
	Identity  string    `json:"identity"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// TokensAPIConfig configures NewTokensAPI.
type TokensAPIConfig struct {
	// Issuer mints the user tokens (required).
	Issuer *Issuer
	// Replay records revocations (required): give the Verifiers the same one.
	Replay ReplayCache
	// Clock dates revocations. Default: the real clock.
	Clock Clock
}

// TokensAPI is the REST API of user tokens, an http.Handler whose paths are
// relative to the API root (mount it with http.StripPrefix("/v1", api) at
// /v1/tokens and /v1/tokens/):
//
//   - POST /tokens: a host's backend asks for a user token, like Infobip's
//     POST /webrtc/1/token; the token belongs to the caller's account.
//   - DELETE /tokens/{id}: the token id (jti) is refused from now on by
//     every Verifier sharing the ReplayCache, until the Issuer's MaxTTL has
//     passed (no token lives longer).
//
// Every route needs an admin caller (AdminAccount), authenticated by
// Middleware in front of it. TokensAPI is safe for concurrent use.
type TokensAPI struct {
	cfg    TokensAPIConfig
	router *httpx.Router
}

var _ http.Handler = (*TokensAPI)(nil)

// NewTokensAPI validates cfg and returns the handler.
func NewTokensAPI(cfg TokensAPIConfig) (*TokensAPI, error) {
	if cfg.Issuer == nil || cfg.Replay == nil {
		return nil, errors.New("auth: TokensAPIConfig needs Issuer and Replay")
	}
	cfg.Clock = clockOr(cfg.Clock)
	a := &TokensAPI{cfg: cfg, router: httpx.NewRouter(AdminAccount, HTTPStatus)}
	a.router.Handle("POST /tokens", a.mint)
	a.router.Handle("DELETE /tokens/{id}", a.revoke)
	return a, nil
}

// ServeHTTP implements http.Handler.
func (a *TokensAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.router.ServeHTTP(w, r) }

func (a *TokensAPI) mint(w http.ResponseWriter, r *http.Request, account string) error {
	var req UserTokenRequest
	if err := httpx.DecodeJSON(w, r, MaxTokensAPIBody, &req); err != nil {
		return err
	}
	maxTTL := int64(a.cfg.Issuer.MaxTTL() / time.Second)
	if req.TTL > maxTTL {
		return httpx.Errorf(http.StatusBadRequest, "invalid_claims", "ttl is over the maximum of %d seconds", maxTTL)
	}
	tok, c, err := a.cfg.Issuer.Mint(r.Context(), TokenRequest{
		Identity: req.Identity, DisplayName: req.DisplayName, Account: account,
		Grants: req.Grants, Capabilities: req.Capabilities,
		TTL: time.Duration(req.TTL) * time.Second, SingleUse: req.SingleUse,
	})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, UserTokenResponse{Token: tok, TokenID: c.ID, Identity: c.Subject, ExpiresAt: c.Expiry})
	return nil
}

func (a *TokensAPI) revoke(w http.ResponseWriter, r *http.Request, account string) error {
	id := r.PathValue("id")
	if id == "" || len(id) > 128 {
		return httpx.Errorf(http.StatusBadRequest, "invalid_request", "a token id (jti) is required")
	}
	if err := a.cfg.Replay.Revoke(r.Context(), RevocationKey(account, id), a.cfg.Clock.Now().Add(a.cfg.Issuer.MaxTTL())); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
