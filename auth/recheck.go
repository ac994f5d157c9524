package auth

import (
	"context"
	"fmt"
)

// Revoked reports whether the token behind c has been revoked since it was
// verified (DELETE /v1/tokens/{id}). Servers that keep a connection open on
// a token call it periodically; without a ReplayCache nothing is ever
// revoked. Expiry is not checked here: the caller compares c.Expiry with its
// own clock.
func (v *Verifier) Revoked(ctx context.Context, c *Claims) (bool, error) {
	if v.cfg.Replay == nil || c == nil {
		return false, nil
	}
	revoked, err := v.cfg.Replay.Revoked(ctx, RevocationKey(c.Account, c.ID))
	if err != nil {
		return false, fmt.Errorf("auth: replay cache: %w", err)
	}
	return revoked, nil
}
