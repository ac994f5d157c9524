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
//	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key}) // key from GenerateKey or ParsePrivateKeyPEM
//	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
//	replay := auth.NewMemoryReplayCache(auth.MemoryReplayCacheConfig{})
//	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: replay})
//	th, _ := auth.NewTokenHandler(auth.TokenHandlerConfig{Issuer: iss, Credentials: store})
//	mux.Handle("POST /oauth2/token", th)
//	mux.Handle("GET /.well-known/jwks.json", keys.JWKSHandler())
//	admin := auth.NewMiddleware(auth.MiddlewareConfig{
//		Verifier: ver, Credentials: store, Require: []auth.Grant{auth.GrantAdmin},
//	})
//	tokens, _ := auth.NewTokensAPI(auth.TokensAPIConfig{Issuer: iss, Replay: replay})
//	mux.Handle("/v1/tokens", admin(http.StripPrefix("/v1", tokens)))  // POST /v1/tokens
//	mux.Handle("/v1/tokens/", admin(http.StripPrefix("/v1", tokens))) // DELETE /v1/tokens/{id}
//
// Every REST API of Switchboard (TokensAPI here, rooms.Handler,
// calling.Server.CallsHandler) is an http.Handler whose paths are relative
// to the API root: the host mounts it with http.StripPrefix on the subtrees
// it owns, behind the authentication it chooses. Each admits only callers
// that AdminAccount accepts (push's devices API: users, by UserAccount),
// and answers errors as {"code","message"}
// (HTTPStatus maps this package's errors). Config fields named Clock take
// the time source (nil: the real clock).
//
// Tokens are compact JWS, ES256 by default (EdDSA and HS256 selectable by
// the key), with "kid" in the header. A Verifier looks the kid up in its
// KeySet and accepts only that key's algorithm, so "alg":"none" and
// algorithm confusion are refused; it requires exp and iat, checks nbf and
// iat with a skew (30 s by default), iss and aud.
//
// Every exported type is safe for concurrent use.
package auth
