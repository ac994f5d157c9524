// Package protocol is the wire of Switchboard's signaling protocol, the
// WebSocket of JSON text messages a calling.Server serves at /v1/signal
// (docs/protocol.md describes every message with an example; a test keeps
// that page and this package in agreement).
//
// It holds what a client and the server must agree on, and nothing of the
// server: the message types (TypeJoin, ...) and Message with the payloads it
// carries (Publication, TrackInfo, CallOptions, ...); call states and causes
// (CallState, Cause); the close codes of the WebSocket (CloseTokenExpired,
// ...); the error message's body (Error) and its stable reasons
// (ReasonSessionFull, ...); the data channel's messages (DataEnvelope); the
// rules a message must follow (ValidDTMF, CallOptions.Validate, MaxIDBytes)
// and the size limits (DefaultMaxMessageBytes, DefaultMaxDataMessageBytes);
// and encoding (Encode) and the server's strict decoding of what a client
// sends (DecodeClientMessage).
//
// A third-party Go client imports this package, not calling: it compiles
// without the SFU and depends only on pion's webrtc (for
// ICECandidateInit) and coder/websocket (for the close codes' type).
// Package calling/client is such a client.
//
// The package has no state: its functions are safe for concurrent use; its
// types are plain values.
package protocol
