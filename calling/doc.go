// Package calling is Switchboard's real-time core: the signaling WebSocket
// (Server, an http.Handler mounted at /v1/signal), one pion PeerConnection
// per participant, and the SFU that forwards each published track to exactly
// the participants package rooms says receive it. It also carries the data
// channel (participant-to-participant text and the server's Broadcast).
//
// 1:1 calls between identities (Call): a caller with the outgoing grant
// calls an identity, every connection of it with the incoming grant rings,
// the first to accept wins; states and causes follow MessageBird's list;
// hold, mute and DTMF work in calls; a callee with no connection is woken
// through a Waker (package push). Hooks (NewWebhooks posts them, signed in
// the Standard Webhooks format) tell the host about call states, DTMF and participants. The REST API
// places calls too (CallsHandler: POST/GET/DELETE /v1/calls), and the
// Server is the rooms.Broadcaster behind POST /v1/sessions/{sid}/broadcast.
//
// Media routing follows rooms: when a track appears, a participant joins or
// leaves, or subscriptions change, rooms emits an event and each affected
// connection recomputes what it receives (rooms.Receives) and renegotiates.
// The server is always the offerer, so there is no glare; clients answer.
// A published track is in the room from the publisher's answer on (before
// its first packet), so subscribers are bound when media starts. Each offer
// lists which m-line (mid) carries which participant's stream. The m-line
// of a track that has gone is offered inactive once and then carries the
// next track of its kind, so a subscriber's SDP stays the size of what it
// receives now.
//
// The media path is package calling/sfu: one sfu.Track per published track,
// with one reader goroutine; its subscribers are an immutable slice behind
// an atomic pointer, replaced on change (copy-on-write); each packet is
// written once per subscriber from one reused buffer, with no lock and no
// allocation. All peers share one UDP port (pion's UDP mux), and the copies
// of one packet leave it in one sendmmsg (MediaConfig.SendBatch).
// Config.TrackObserver hands the host each published track (with its
// account, session, participant, call and codec) and a context that ends
// with it, so a recorder or a quality probe can attach an sfu.Sink to it
// without reaching into the SFU. Config.Quality (a *netquality.Monitor, or
// any QualityMonitor) measures each participant's network per direction:
// the Server attaches a sink to each published track (its uplink) and
// hands the subscribers' RTCP reports to it (their downlinks), ticks it on
// Clock, and sends the level changes the host passes to
// NetworkQualityChanged as networkQuality and participantNetworkQuality
// messages and QualityHooks events.
// Config.Recorder records calls and rooms:
// the Server asks it when a call is answered (before the parties' media is
// set up) and when someone joins a room that is not recorded, hands the
// running Recording every track of what it records, tells every
// participant (recordingStarted, recordingStopped) and stops it at the
// end; Server.StartRecording and StopRecording serve on-demand requests.
// The host implements Recorder with package recording, which calling does
// not import.
//
// Each connection is an actor: a reader, a writer with a bounded queue (a
// client that lets it fill is disconnected with close code 4008), and one
// loop that alone changes the connection's state and pings the client
// every PingInterval (no pong within PingTimeout closes with 4408; a
// goroutine lives for each ping, none waits between them). Bad tokens
// close with 4403, identities that break the rule with 4406. A token bounds the connection's life: at its
// expiry (on Config.Clock) or within TokenCheckInterval of its revocation
// the connection closes with 4401, unless the client sent a fresh token for
// the same identity in a refresh message (narrowed grants apply at once).
// What a connection may do is decided in one place from its token's grants
// (and a REST participant's permissions). Config.Limits bounds connections,
// PeerConnections, rooms, joins, ICE candidates and floods; Hooks and
// Webhooks deliver from an outbox, at least once and in order per call,
// without ever blocking signaling. The wire protocol is docs/protocol.md;
// its messages, states and causes, close codes and error reasons are
// package calling/protocol, which calling's API uses (protocol.CallOptions,
// protocol.CallState, protocol.ICEServer) and a client imports instead of
// this package.
//
// Compose it:
//
//	srv, _ := calling.New(calling.Config{Rooms: mgr, Verifier: verifier})
//	defer srv.Close()
//	mux.Handle("/v1/signal", srv)
//	calls := admin(http.StripPrefix("/v1", srv.CallsHandler())) // admin: auth.NewMiddleware
//	mux.Handle("/v1/calls", calls)
//	mux.Handle("/v1/calls/", calls)
//	roomsAPI, _ := rooms.NewHandler(rooms.HandlerConfig{Manager: mgr, Issuer: issuer, Broadcaster: srv})
//
// To take a node out of service without cutting calls short, call Drain
// before Close (on SIGTERM, say): new connections are refused (503
// draining), idle ones are told to reconnect (elsewhere, or to the same URL
// behind a load balancer) and closed with 1012, and calls and rooms go on
// until they end or Drain's context does.
//
// Several nodes share the work when Config.Cluster places rooms, the homes
// of identities that may receive calls, and calls on nodes
// (adapters/redis.Nodes.Cluster): a connection that reaches another node is
// relayed, message for message, to the node that serves its room or call,
// and the calls API, broadcasts and recordings on demand reach that node
// from any other (docs/cluster.md).
//
// Package calling/client is a Go participant for tests, bots and load; it
// imports calling/protocol, never calling.
//
// Server is safe for concurrent use.
package calling
