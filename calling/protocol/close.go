package protocol

import "github.com/coder/websocket"

// Close codes of the signaling WebSocket (4000 + the protocol error code, so
// a client reads the same code from an error message and a close frame).
// The server also closes with the standard codes 1000 (after leave), 1001
// (shutting down), 1008 (replaced by a newer connection of the same
// participant), 1009 (a message over the size limit) and 1012 (service
// restart: the server is draining; a reconnect message came first).
const (
	// CloseTokenExpired ends a connection whose token expired or was
	// revoked (reason token_expired or token_revoked) without a refresh
	// message first. A bad token at connect time is CloseForbidden.
	CloseTokenExpired  websocket.StatusCode = 4401
	CloseForbidden     websocket.StatusCode = 4403
	CloseNotAcceptable websocket.StatusCode = 4406
	CloseRateLimited   websocket.StatusCode = 4429
	CloseInternal      websocket.StatusCode = 4500
	CloseSlowConsumer  websocket.StatusCode = 4008
	CloseTimeout       websocket.StatusCode = 4408
	CloseSessionEnded  websocket.StatusCode = 4410
	// CloseNodeUnreachable ends a connection that a node relayed to the
	// node serving its room or call when that node went away (reason
	// node_unreachable): reconnect, and join or call again.
	CloseNodeUnreachable websocket.StatusCode = 4503
)
