package auth

import (
	"errors"
	"slices"
	"strings"
)

// tokenRequestFor turns the scope parameter of a token request by client
// into what to mint (RFC 6749 §3.3):
//
//   - No scope: an API (admin) token of the client's account carrying all
//     of the client's registered scopes, as before scopes existed. It lets
//     its holder do anything in the account: it must never reach a browser
//     or a phone.
//   - Only scopes registered for the client (Client.Scopes): that API token
//     narrowed to them.
//   - Capability strings (see ParseCapabilities), e.g.
//     "client.outgoing?identity=alice client.incoming?identity=alice
//     room.join?name=hello publish?media=AUDIO data": a user token of the
//     client's account for that identity with exactly those grants and
//     no admin grant, made to be handed to the app.
//
// Anything else (an empty scope, an unknown or malformed capability,
// capabilities naming different identities, registered scopes mixed with
// capabilities) is an error whose text is safe to send as the
// invalid_scope description. The granted scope, in canonical form, is the
// token's Scope.
func tokenRequestFor(client *Client, scope string, present bool) (TokenRequest, error) {
	if !present {
		return TokenRequest{
			Identity: client.ID, Account: client.Account, Scope: strings.Join(client.Scopes, " "),
			Grants: Grants{Admin: true},
		}, nil
	}
	var items []string
	for _, s := range strings.Split(scope, " ") {
		if s != "" {
			items = append(items, s)
		}
	}
	if len(items) == 0 {
		return TokenRequest{}, errors.New("scope is empty")
	}
	registered := 0
	for _, s := range items {
		if slices.Contains(client.Scopes, s) {
			registered++
		}
	}
	switch registered {
	case len(items):
		return TokenRequest{
			Identity: client.ID, Account: client.Account, Scope: strings.Join(items, " "),
			Grants: Grants{Admin: true},
		}, nil
	case 0:
	default:
		return TokenRequest{}, errors.New("API scopes and user capabilities cannot be mixed in one request")
	}
	identity, g, err := ParseCapabilities(items)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "auth: ")
		return TokenRequest{}, errors.New(strings.TrimPrefix(msg, "invalid claims: "))
	}
	return TokenRequest{
		Identity: identity, Account: client.Account, Grants: g,
		Scope: strings.Join(FormatCapabilities(identity, g), " "),
	}, nil
}
