package auth

import (
	"net/http"
	"sync"
)

// TokenStats are the counters of a TokenHandler since it was made
// (metrics); they only grow.
type TokenStats struct {
	// Issued counts the access tokens issued.
	Issued uint64
	// Refused counts the refused requests by the OAuth2 error code of the
	// answer (invalid_request, invalid_client, unsupported_grant_type,
	// invalid_scope, server_error), except the answers 429 to an address
	// or client past MaxFailures, counted as "rate_limited" (their body
	// says invalid_request).
	Refused map[string]uint64
}

// RefusedRateLimited is the TokenStats.Refused key of the requests
// answered 429 because of too many failed attempts.
const RefusedRateLimited = "rate_limited"

// tokenCounters are a TokenHandler's counters.
type tokenCounters struct {
	mu      sync.Mutex
	issued  uint64
	refused map[string]uint64
}

// tokenReply is the ResponseWriter of one token request: it remembers
// the status and the OAuth2 error code answered, for the counters.
type tokenReply struct {
	http.ResponseWriter
	status int
	code   string // the error code; "" for a token
}

func (r *tokenReply) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// count counts the answer of one token request.
func (c *tokenCounters) count(r *tokenReply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case r.code == "" && (r.status == 0 || r.status == http.StatusOK):
		c.issued++
	case r.code == "":
		// Not an answer of ours (a panic recovered by net/http): nothing.
	default:
		code := r.code
		if r.status == http.StatusTooManyRequests {
			code = RefusedRateLimited
		}
		if c.refused == nil {
			c.refused = map[string]uint64{}
		}
		c.refused[code]++
	}
}

// Stats returns the handler's counters. Safe for concurrent use.
func (h *TokenHandler) Stats() TokenStats {
	h.counters.mu.Lock()
	defer h.counters.mu.Unlock()
	s := TokenStats{Issued: h.counters.issued, Refused: make(map[string]uint64, len(h.counters.refused))}
	for k, v := range h.counters.refused {
		s.Refused[k] = v
	}
	return s
}
