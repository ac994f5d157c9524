// Package client is a programmatic Switchboard participant: it connects to
// calling.Server's signaling WebSocket with a user token, joins a room or
// session, publishes tracks, receives the tracks the server forwards, and
// sends and receives data-channel messages. Tests, bots and the load tool
// use it. It speaks the protocol through package calling/protocol (the
// messages it sends and delivers are protocol.Message values) and does not
// import the server. The server's network-quality messages (networkQuality
// about this client, participantNetworkQuality about the others) arrive on
// Events and OnMessage like any other; the client reads the RTCP of every
// track it receives (Config.OnRTCP shows it), so that its receiver reports
// carry the times the server measures its round trip with.
//
// A server that drains sends reconnect: the client ends its session (rooms
// and calls are not resumed), connects to the URL it was given (or the same
// one) with a fresh token from Config.TokenSource, and carries on; Events
// delivers the reconnect and then the new connection's status, the cue to
// join or call again (Config.ReconnectTimeout bounds the attempts).
//
// A Client is safe for concurrent use. Its goroutines end when Close is
// called or the connection ends.
package client
