package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// keepTokenFresh sends a refresh message with a token from source before
// each token expires, until the client closes.
func (c *Client) keepTokenFresh(token string, source func(context.Context) (string, error)) {
	defer c.wg.Done()
	iat, exp, err := tokenTimes(token)
	for {
		if err != nil {
			c.setErr(err)
			return // the server closes the connection at expiry
		}
		lead := min(max(exp.Sub(iat)/4, time.Second), 30*time.Second)
		t := time.NewTimer(time.Until(exp.Add(-lead)))
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		token, err = c.nextToken(source, exp)
		if err == nil {
			iat, exp, err = tokenTimes(token)
		}
	}
}

// nextToken gets a token from source and hands it to the server, retrying
// every second until exp.
func (c *Client) nextToken(source func(context.Context) (string, error), exp time.Time) (string, error) {
	for {
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		tok, err := source(ctx)
		if err == nil {
			// A source that hands back the same (cached) token must not make
			// the client refresh in a loop: wait and ask again.
			if _, next, terr := tokenTimes(tok); terr != nil || !next.After(exp) {
				err = errors.New("client: the token source returned no token that outlives the current one")
			}
		}
		if err == nil {
			_, err = c.Refresh(ctx, tok)
		}
		cancel()
		if err == nil {
			return tok, nil
		}
		if c.ctx.Err() != nil || time.Until(exp) < time.Second {
			return "", errors.Join(errors.New("client: token refresh failed"), err)
		}
		select {
		case <-c.ctx.Done():
			return "", c.ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// tokenTimes reads iat and exp from a JWT without verifying it (the server
// does that); the client only needs to know when to refresh.
func tokenTimes(token string) (iat, exp time.Time, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return iat, exp, errors.New("client: token is not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return iat, exp, errors.New("client: token payload is not base64url")
	}
	var c struct {
		Iat int64 `json:"iat"`
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Exp == 0 {
		return iat, exp, errors.New("client: token has no exp")
	}
	iat, exp = time.Unix(c.Iat, 0), time.Unix(c.Exp, 0)
	if c.Iat == 0 || !iat.Before(exp) {
		iat = exp.Add(-time.Minute)
	}
	return iat, exp, nil
}

// Refresh hands the server a fresh token for the same identity (a refresh
// message) and returns its expiry. The connection carries on; narrowed
// grants take effect at once.
func (c *Client) Refresh(ctx context.Context, token string) (time.Time, error) {
	r, err := c.request(ctx, protocol.Message{Type: protocol.TypeRefresh, Token: token})
	if err != nil {
		return time.Time{}, err
	}
	if r.ExpiresAt == nil {
		return time.Time{}, errors.New("client: refreshed without expiresAt")
	}
	c.mu.Lock()
	c.token = token // a reconnect without a TokenSource presents it
	c.mu.Unlock()
	return *r.ExpiresAt, nil
}
