package protocol

// Error is the body of an error message and the reason of a close. Code and
// Reason are stable; Message is for people. A plain value: not safe for
// concurrent mutation.
type Error struct {
	// Code: 400 bad message, 401 token expired or revoked on an open
	// connection, 403 token invalid or a grant missing, 404 no such session,
	// stream or call, 406 identity not acceptable, 409 conflict (session
	// full, already joined), 429 rate limited, 500 internal, 503 server
	// full, draining, or a shared store unavailable.
	Code int `json:"code"`
	// Reason is one of the Reason* constants.
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Reason + ": " + e.Message }

// The reasons of error messages (Error.Reason), with the code each comes
// with; left and unpublished messages carry one too (Message.Reason).
const (
	ReasonBadMessage            = "bad_message"             // 400: not a valid message
	ReasonBadRequest            = "bad_request"             // 400: a value the rooms layer refuses
	ReasonTooManyCandidates     = "too_many_candidates"     // 400: over the ICE candidate budget
	ReasonTokenExpired          = "token_expired"           // 401: the connection's token expired (close 4401 follows)
	ReasonTokenRevoked          = "token_revoked"           // 401: the connection's token was revoked (close 4401 follows)
	ReasonTokenInvalid          = "token_invalid"           // 403: a token refused at connect time or in a refresh
	ReasonIdentityMismatch      = "identity_mismatch"       // 403: a refresh token for another identity
	ReasonRoomNotGranted        = "room_not_granted"        // 403: the token does not grant the room
	ReasonPublishNotPermitted   = "publish_not_permitted"   // 403: a kind the participant may not publish
	ReasonForbidden             = "forbidden"               // 403: a call without the outgoing grant
	ReasonNotFound              = "not_found"               // 404: no such session, or not a member of it
	ReasonNotPublished          = "not_published"           // 404: an alias that was not announced
	ReasonNoSuchCall            = "no_such_call"            // 404: an unknown call, or not a party of it
	ReasonIdentityNotAcceptable = "identity_not_acceptable" // 406: an identity that breaks the identity rule
	ReasonAlreadyJoined         = "already_joined"          // 409: join while in a room or call
	ReasonNotJoined             = "not_joined"              // 409: a session message before join
	ReasonSessionFull           = "session_full"            // 409: the session is full
	ReasonTooManySessions       = "too_many_sessions"       // 409: already in another session
	ReasonBusy                  = "busy"                    // 409: call or accept while in a room or call
	ReasonAlreadyInCall         = "already_in_call"         // 409: call while in a call
	ReasonUnexpectedAnswer      = "unexpected_answer"       // 409: an answer with no offer pending
	ReasonIllegalTransition     = "illegal_transition"      // 409: a call message the call's state does not allow
	ReasonNotEstablished        = "not_established"         // 409: hold or dtmf before the call is accepted
	ReasonRateLimited           = "rate_limited"            // 429: over the message rate
	ReasonJoinRateLimited       = "join_rate_limited"       // 429: over the join rate
	ReasonCallRateLimited       = "call_rate_limited"       // 429: over the rate of calls placed
	ReasonInternal              = "internal"                // 500: a fault of the server
	ReasonServerFull            = "server_full"             // 503: the server's limits are reached
	ReasonNodeUnreachable       = "node_unreachable"        // 503: the node serving the room or callee could not be reached
	ReasonStoreUnavailable      = "store_unavailable"       // 503: a shared store (Redis) is unreachable; retry on the same connection
	ReasonDraining              = "draining"                // 503: join or call on a draining server (also a reconnect message's reason)
)

func badMessage(msg string) *Error {
	return &Error{Code: 400, Reason: ReasonBadMessage, Message: msg}
}
