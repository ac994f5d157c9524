package auth

import (
	"errors"
	"net/http"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/httpx"
)

// MaxTokensAPIBody is the largest body POST /v1/tokens accepts.
const MaxTokensAPIBody = 16 << 10

// UserTokenRequest is the body of POST /v1/tokens.
type UserTokenRequest struct {
	Identity     string   `json:"identity,omitempty" validate:"required_without=Capabilities,max=256"`
	DisplayName  string   `json:"displayName,omitempty" validate:"max=128"`
	Grants       Grants   `json:"grants"`
	Capabilities []string `json:"capabilities,omitempty" validate:"omitempty,max=16,dive,min=1,max=512"`
	// TTL in seconds; 0 or absent means the issuer's default.
	TTL       int64 `json:"ttl,omitempty" validate:"gte=0"`
	SingleUse bool  `json:"singleUse,omitempty"`
}

// UserTokenResponse is the answer of POST /v1/tokens.
type UserTokenResponse struct {
	Token     string    `json:"token"`
	TokenID   string    `json:"tokenId"`
	Identity  string    `json:"identity"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// TokensHandler serves POST /v1/tokens: a host's backend (an admin of its
// account, authenticated by Middleware) asks for a user token, like
// Infobip's POST /webrtc/1/token. The token is scoped to the caller's account.
// Safe for concurrent use.
func TokensHandler(iss *Issuer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, ok := adminRequest(w, r, http.MethodPost)
		if !ok {
			return
		}
		var req UserTokenRequest
		if err := httpx.DecodeJSON(w, r, MaxTokensAPIBody, &req); err != nil {
			httpx.WriteError(w, err)
			return
		}
		if req.TTL > int64(iss.MaxTTL()/time.Second) {
			httpx.WriteError(w, httpx.Errorf(http.StatusBadRequest, "invalid_claims", "ttl is over the maximum of %d seconds", int64(iss.MaxTTL()/time.Second)))
			return
		}
		tok, c, err := iss.Mint(r.Context(), TokenRequest{
			Identity: req.Identity, DisplayName: req.DisplayName, Account: caller.Account,
			Grants: req.Grants, Capabilities: req.Capabilities,
			TTL: time.Duration(req.TTL) * time.Second, SingleUse: req.SingleUse,
		})
		if err != nil {
			status, code := HTTPStatus(err)
			msg := publicMessage(code)
			if errors.Is(err, ErrInvalidClaims) {
				msg = err.Error()
			}
			httpx.WriteError(w, httpx.Errorf(status, code, "%s", msg))
			return
		}
		httpx.WriteJSON(w, http.StatusCreated, UserTokenResponse{Token: tok, TokenID: c.ID, Identity: c.Subject, ExpiresAt: c.Expiry})
	})
}

// RevokeHandler serves DELETE /v1/tokens/{id}: the token id (jti) is refused
// from now on by every Verifier sharing replay, until maxTTL has passed (no
// token lives longer). Admin only, like TokensHandler. Safe for concurrent use.
func RevokeHandler(replay ReplayCache, maxTTL time.Duration, now func() time.Time) http.Handler {
	if now == nil {
		now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := adminRequest(w, r, http.MethodDelete); !ok {
			return
		}
		id := r.PathValue("id")
		if id == "" || len(id) > 128 {
			httpx.WriteError(w, httpx.Errorf(http.StatusBadRequest, "invalid_request", "a token id (jti) is required"))
			return
		}
		if err := replay.Revoke(r.Context(), id, now().Add(maxTTL)); err != nil {
			status, code := HTTPStatus(err)
			httpx.WriteError(w, httpx.Errorf(status, code, "%s", publicMessage(code)))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// adminRequest checks the method and that Middleware admitted an admin; it
// writes the error and reports false otherwise.
func adminRequest(w http.ResponseWriter, r *http.Request, method string) (*Claims, bool) {
	if r.Method != method {
		w.Header().Set("Allow", method)
		httpx.WriteError(w, httpx.Errorf(http.StatusMethodNotAllowed, "method_not_allowed", "use %s", method))
		return nil, false
	}
	caller, ok := FromContext(r.Context())
	if !ok || !caller.Grants.Admin {
		httpx.WriteError(w, httpx.Errorf(http.StatusForbidden, "forbidden", "admin credentials are required"))
		return nil, false
	}
	return caller, true
}
