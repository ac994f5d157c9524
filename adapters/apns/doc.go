// Package apns sends push.Wakeup messages as APNs VoIP pushes, with
// github.com/sideshow/apns2 over HTTP/2: it implements push.Notifier.
//
// Every push carries apns-push-type voip, the topic <bundle id>.voip,
// priority 10, expiration 0 (deliver now or never) and the call id as its
// collapse id; the body is push.Wakeup.Payload as JSON (docs/push.md shows
// it and what an iOS app must do with it). Authentication is a provider
// token signed with the team's .p8 key (checked and signed once in New, so
// a bad key fails at start) or the app's VoIP Services certificate (.p12 or
// PEM). Each device goes to the sandbox or the production host as its
// Sandbox flag (or Config.Sandbox) says; Config.Host and Config.RootCAs
// point the client at a local server in tests.
//
// APNs answers map to push.SendError: 410, Unregistered and BadDeviceToken
// are a dead token (the Waker removes the device); 429, 5xx and network
// errors are transient (retried); the rest is permanent.
//
// Config holds secrets and never prints them (String, GoString, LogValue
// and MarshalJSON redact); ConfigFromEnv reads one from SWITCHBOARD_APNS_*
// variables. A Notifier is safe for concurrent use.
package apns
