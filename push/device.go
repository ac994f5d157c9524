package push

import (
	"fmt"
	"strings"
	"time"
)

// Platform is the push service that reaches a device.
type Platform string

// The platforms.
const (
	// APNs: Apple Push Notification service, VoIP pushes (iOS, iPadOS).
	APNs Platform = "apns"
	// FCM: Firebase Cloud Messaging, high-priority data messages (Android).
	FCM Platform = "fcm"
)

// Token bounds.
const (
	// MinAPNsTokenLength and MaxAPNsTokenLength bound an APNs device token in
	// hex digits (today's tokens are 32 bytes, 64 digits; Apple says the
	// length may grow).
	MinAPNsTokenLength = 64
	MaxAPNsTokenLength = 200
	// MaxFCMTokenLength bounds an FCM registration token in bytes.
	MaxFCMTokenLength = 4096
	// MaxAppLength bounds Device.App in bytes.
	MaxAppLength = 255
)

// Device is one app installation that can be woken: a push token of one
// platform registered by an identity. A Device is a value; copies are
// independent.
type Device struct {
	// ID names the device in the REST API ("d-…"); the Registry assigns it.
	ID string `json:"id"`
	// Account and Identity own the device (the user token's acct and sub).
	Account  string `json:"-"`
	Identity string `json:"identity"`
	// Platform is APNs or FCM.
	Platform Platform `json:"platform"`
	// Token is the device's push token: hex for APNs (stored in lower
	// case), the FCM registration token as FCM issued it.
	Token string `json:"token"`
	// App is the app's bundle id (iOS) or package name (Android); empty
	// means the app the host configured for the platform.
	App string `json:"app,omitempty"`
	// Sandbox marks an APNs token of a development build (the APNs sandbox
	// environment); FCM ignores it.
	Sandbox bool `json:"sandbox"`
	// CreatedAt is when the token was registered to this identity.
	CreatedAt time.Time `json:"createdAt"`
}

// Validate checks the platform, the token for its platform, the app id, and
// that the device has an account and an identity; it returns the device
// with its token normalised (APNs hex in lower case). Errors wrap
// ErrInvalidPlatform, ErrInvalidPushToken, ErrInvalidApp or ErrInvalidDevice.
func (d Device) Validate() (Device, error) {
	if d.Account == "" || d.Identity == "" {
		return d, ErrInvalidDevice
	}
	tok, err := NormalizeToken(d.Platform, d.Token)
	if err != nil {
		return d, err
	}
	d.Token = tok
	if d.App != "" && !validApp(d.App) {
		return d, ErrInvalidApp
	}
	return d, nil
}

// NormalizeToken checks a push token against its platform's rule and
// returns it in canonical form: an APNs token is 64 to 200 hex digits and
// comes back in lower case; an FCM token is 1 to 4096 printable ASCII
// characters (no spaces) and comes back unchanged.
func NormalizeToken(p Platform, token string) (string, error) {
	switch p {
	case APNs:
		if len(token) < MinAPNsTokenLength || len(token) > MaxAPNsTokenLength {
			return "", fmt.Errorf("%w: an APNs token is %d to %d hex digits, got %d characters", ErrInvalidPushToken, MinAPNsTokenLength, MaxAPNsTokenLength, len(token))
		}
		for i := 0; i < len(token); i++ {
			if !isHex(token[i]) {
				return "", fmt.Errorf("%w: an APNs token is hex digits only", ErrInvalidPushToken)
			}
		}
		return strings.ToLower(token), nil
	case FCM:
		if len(token) == 0 || len(token) > MaxFCMTokenLength {
			return "", fmt.Errorf("%w: an FCM token is 1 to %d characters, got %d", ErrInvalidPushToken, MaxFCMTokenLength, len(token))
		}
		for i := 0; i < len(token); i++ {
			if token[i] < 0x21 || token[i] > 0x7e {
				return "", fmt.Errorf("%w: an FCM token is printable ASCII without spaces", ErrInvalidPushToken)
			}
		}
		return token, nil
	}
	return "", ErrInvalidPlatform
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// validApp: 1 to 255 of ASCII letters, digits and . _ - (iOS bundle ids and
// Android package names both fit).
func validApp(s string) bool {
	if len(s) == 0 || len(s) > MaxAppLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
