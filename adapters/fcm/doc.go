// Package fcm sends push.Wakeup messages as Firebase Cloud Messaging (HTTP
// v1) data messages, with the Firebase Admin SDK
// (firebase.google.com/go/v4/messaging): it implements push.Notifier.
//
// Every message is data only (push.Payload.Data: every value a string),
// with android.priority "high" so that a dozing phone wakes, a TTL of the
// time left until the call stops ringing, and restricted_package_name when
// the app's package is known. docs/push.md shows what arrives and what an
// Android app must do with it.
//
// Credentials are a service account key file (Config.ServiceAccountJSON),
// or any oauth2.TokenSource; Config.Endpoint points the SDK at a local
// server in tests, so that nothing looks for Google credentials. The SDK
// retries 503s by itself; the context of Send bounds those retries.
//
// FCM answers map to push.SendError: UNREGISTERED, and INVALID_ARGUMENT
// about the registration token, are a dead token; 429 and 5xx are transient
// (with Retry-After), as is no answer; the rest is permanent.
//
// Config holds a secret and never prints it (String, GoString, LogValue and
// MarshalJSON redact); ConfigFromEnv reads one from SWITCHBOARD_FCM_*
// variables. A Notifier is safe for concurrent use.
package fcm
