// Package auth owns Switchboard's credentials and tokens: API clients and
// the OAuth2 client-credentials token endpoint (TokenHandler), minting
// (Issuer) and verifying (Verifier) the JWTs that browsers, phones and REST
// callers present, the signing keys with rotation and their JWKS document
// (KeySet), capability grants (Grants, MessageBird capability strings),
// revocation and single-use tokens (ReplayCache), and the HTTP middleware
// that puts verified Claims into a request's context (Middleware,
// FromContext). TokenFromRequest is the one way to take a bearer token
// from a request; the Claims methods CanJoin, CanPublish, CanCall,
// CanReceiveCalls, CanSendData and IsAdmin are the one place that reads
// what a token allows.
//
// The token endpoint issues two kinds of token. Without a scope, an API
// token: an admin of the client's account, for the host's own server; it
// must never reach a browser or a phone. With a scope of capability
// strings ("client.outgoing?identity=alice client.incoming?identity=alice
// room.join?name=hello publish?media=AUDIO data", see ParseCapabilities),
// a user token for that identity with exactly those grants and no admin
// grant, made to be handed to the app.
//
// Client authentication cannot be used to lock a tenant out: failed
// attempts are limited per address, a client id counts failures only, and
// the correct secret always succeeds from an address that is not blocked.
//
// auth is the base of the module: it imports no other Switchboard package
// (only internal helpers). The host composes it:
//
//	keys := auth.NewKeySet(key)                       // key from GenerateKey or ParsePrivateKeyPEM
//	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
//	replay := auth.NewMemoryReplayCache(0, nil)
//	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: replay})
//	th, _ := auth.NewTokenHandler(auth.TokenHandlerConfig{Issuer: iss, Credentials: store})
//	mux.Handle("POST /oauth2/token", th)
//	mux.Handle("GET /.well-known/jwks.json", keys.JWKSHandler())
//	admin := auth.NewMiddleware(auth.MiddlewareConfig{
//		Verifier: ver, Credentials: store, Require: []auth.Grant{auth.GrantAdmin},
//	})
//	mux.Handle("POST /v1/tokens", admin(auth.TokensHandler(iss)))
//	mux.Handle("DELETE /v1/tokens/{id}", admin(auth.RevokeHandler(replay, iss.MaxTTL(), nil)))
//
// Tokens are compact JWS, ES256 by default (EdDSA and HS256 selectable by
// the key), with "kid" in the header. A Verifier looks the kid up in its
// KeySet and accepts only that key's algorithm, so "alg":"none" and
// algorithm confusion are refused; it requires exp and iat, checks nbf and
// iat with a skew (30 s by default), iss and aud.
//
// Every exported type is safe for concurrent use.
package auth
