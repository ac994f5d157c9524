package auth

import (
	"net/http"
	"net/url"
	"strings"
)

// TokenFromRequest returns the bearer token r carries: from the
// "Authorization: Bearer <token>" header (RFC 6750 §2.1) or, only when
// allowQuery is true, from the access_token query parameter (§2.3), which
// browsers need for WebSocket upgrades because they cannot set headers.
//
// It reports false when r carries no token, when the Authorization header
// uses another scheme, and when a token arrives both ways (a request may use
// only one method, so a proxy that checks one and a server that reads the
// other can never disagree). Enable the query parameter only where needed:
// URLs end up in logs.
func TokenFromRequest(r *http.Request, allowQuery bool) (string, bool) {
	h := r.Header.Get("Authorization")
	var q string
	if allowQuery {
		q = r.URL.Query().Get("access_token")
	}
	switch {
	case h != "" && q != "":
		return "", false
	case h != "":
		scheme, cred, _ := strings.Cut(h, " ")
		cred = strings.TrimSpace(cred)
		if !strings.EqualFold(scheme, "Bearer") || cred == "" {
			return "", false
		}
		return cred, true
	case q != "":
		return q, true
	}
	return "", false
}

// basicCredentials reads HTTP Basic credentials. RFC 6749 §2.3.1 says the
// client id and secret are form-encoded before Basic encoding, and OAuth2
// libraries such as golang.org/x/oauth2 do that; "curl -u" and most HTTP
// clients do not. Both readings are returned for the secret (raw, then
// form-decoded; equal when decoding fails or changes nothing), and the
// caller accepts either in constant time. For the id, which follows the
// ASCII identity rule (no '%', no space), only one reading can be valid:
// the decoded one when it is a valid identity, the raw one otherwise.
func basicCredentials(r *http.Request) (id, raw, decoded string, ok bool) {
	id, raw, ok = r.BasicAuth()
	if !ok || id == "" {
		return "", "", "", false
	}
	if u, err := url.QueryUnescape(id); err == nil && ValidIdentity(u) {
		id = u
	}
	decoded = raw
	if u, err := url.QueryUnescape(raw); err == nil {
		decoded = u
	}
	return id, raw, decoded, true
}
