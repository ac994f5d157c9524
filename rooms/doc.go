// Package rooms is the source of truth for who is in which session and who
// receives what: sessions (and rooms joined by name), participants with
// their publish permissions and published streams, and each member's
// subscriptions under Bandwidth's rules (third-party call control: the
// server, not the clients, decides who hears whom). No media here: calling
// obeys it.
//
// The pieces:
//   - Receives is the pure function "which streams does participant P
//     receive in session S"; everything that routes media asks it.
//   - Manager holds the rules and the limits over a Store (in memory by
//     default; adapters/redis for a shared one). It is safe for concurrent
//     use and emits Events to subscribers without ever waiting for them.
//   - Handler is the REST API (docs/openapi.yaml): an http.Handler whose
//     paths are relative to the API root (/sessions..., /participants...),
//     for callers that auth.AdminAccount admits; records are scoped to the
//     caller's account. A Broadcaster (calling.Server) adds
//     POST /sessions/{sid}/broadcast.
//
// Compose it:
//
//	mgr, _ := rooms.NewManager(rooms.Config{})          // 20 per session, 9 h idle expiry, ...
//	go mgr.Run(ctx)                                     // sweeps idle sessions and empty rooms
//	api, _ := rooms.NewHandler(rooms.HandlerConfig{Manager: mgr, Issuer: issuer, Broadcaster: sfu})
//	admin := auth.NewMiddleware(auth.MiddlewareConfig{
//		Verifier: verifier, Credentials: creds, Require: []auth.Grant{auth.GrantAdmin},
//	})
//	for _, p := range []string{"/v1/sessions", "/v1/sessions/", "/v1/participants", "/v1/participants/"} {
//		mux.Handle(p, admin(http.StripPrefix("/v1", api)))
//	}
package rooms
