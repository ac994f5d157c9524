package main

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
)

// The demo's tokens live in their own account, for identities that start
// with demoPrefix, so a demo visitor can never answer a call placed to, or
// join a room of, the API client's account.
const (
	demoAccount = "demo"
	demoPrefix  = "demo-"
	demoAPIUser = "demo-admin"
	// demoMaxAddrs bounds the addresses the rate limiter remembers; when
	// full of live windows, new addresses are refused until one ends.
	demoMaxAddrs = 4096
)

// demo serves the browser demo and its open token endpoint. It is safe for
// concurrent use.
type demo struct {
	cfg    demoConfig
	issuer *auth.Issuer
	limit  *addrLimiter
}

func newDemo(cfg demoConfig, issuer *auth.Issuer, now func() time.Time) *demo {
	return &demo{cfg: cfg, issuer: issuer, limit: newAddrLimiter(cfg.perMinute, time.Minute, demoMaxAddrs, now)}
}

// guard refuses clients that are not on loopback (403 demo_loopback_only)
// unless the demo was started with -demo-insecure-public. The address is the
// TCP peer's: a reverse proxy on the same machine makes every client look
// local, so never put one in front of the demo.
func (d *demo) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.cfg.public && !clientAddr(r).IsLoopback() {
			writeJSONError(w, http.StatusForbidden, "demo_loopback_only",
				"the demo serves loopback clients only; start the server with -demo-insecure-public to open it to everyone")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tokens mints a demo token: POST {"identity":"alice"} → 201
// {"token","identity":"demo-alice","expiresAt"}. The prefix is added when
// missing. 400 invalid_json or invalid_identity; 429 rate_limited with
// Retry-After past -demo-tokens-per-minute for the client's address.
func (d *demo) tokens(w http.ResponseWriter, r *http.Request) {
	if ok, wait := d.limit.allow(limitKey(clientAddr(r))); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		writeJSONError(w, http.StatusTooManyRequests, "rate_limited", "too many demo tokens from this address; retry later")
		return
	}
	var req struct {
		Identity string `json:"identity"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&req); err != nil {
		writeJSONError(w, http.StatusBadRequest, "invalid_json", `send {"identity":"..."}`)
		return
	}
	identity := req.Identity
	if !strings.HasPrefix(identity, demoPrefix) {
		identity = demoPrefix + identity
	}
	tok, c, err := d.issuer.Mint(r.Context(), auth.TokenRequest{
		Identity: identity, DisplayName: identity, Account: demoAccount, TTL: d.cfg.ttl,
		Grants: auth.Grants{Rooms: []string{"*"}, Publish: []auth.Media{auth.MediaAudio, auth.MediaVideo}, Data: true, Outgoing: true, Incoming: true},
	})
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "invalid_identity", "identity must be 3-59 letters, digits or - _ + = / . (demo- is added)")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "identity": identity, "expiresAt": c.Expiry})
}

// clientAddr is the TCP peer's address (never a forwarded header); the zero
// Addr when it cannot be parsed.
func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// limitKey groups IPv6 clients by /64, the block one subscriber usually
// holds, so that rotating addresses in it does not multiply the limit.
func limitKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
