package apns

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Config is one app's APNs configuration. It holds secrets (the .p8 key,
// the certificate and its password): its String, GoString, LogValue and
// MarshalJSON methods show only the non-secret fields, so that printing or
// logging a Config never leaks them.
//
// Exactly one kind of authentication is configured: token (TeamID, KeyID,
// AuthKey) or certificate (Certificate, CertificatePassword).
type Config struct {
	// TeamID is the Apple developer team id (the "iss" of the provider
	// token). Token authentication.
	TeamID string
	// KeyID is the id of the .p8 key (the "kid" of the provider token).
	// Token authentication.
	KeyID string
	// AuthKey is the content of the .p8 file (PEM, PKCS #8, EC P-256).
	// Token authentication.
	AuthKey []byte
	// Certificate is the content of a .p12 (PKCS #12) or PEM file holding
	// the VoIP Services certificate and its private key. Certificate
	// authentication. (A .p12 must use the legacy SHA1/3DES encryption;
	// convert a newer one to PEM with openssl, or use token authentication.)
	Certificate []byte
	// CertificatePassword decrypts Certificate ("" for none).
	CertificatePassword string
	// BundleID is the app's bundle id (required); pushes go to the topic
	// BundleID + ".voip". A device whose App is set must name this bundle.
	BundleID string
	// Sandbox sends to the APNs sandbox (development builds) for every
	// device. When false, each device's Sandbox flag chooses.
	Sandbox bool
	// Host replaces the APNs host of both environments, for tests
	// ("https://127.0.0.1:port"). Default: api.push.apple.com and
	// api.sandbox.push.apple.com.
	Host string
	// RootCAs verifies the APNs server's certificate. Default: the system's
	// roots. Tests put a local server's certificate here.
	RootCAs *x509.CertPool
}

const redacted = "[REDACTED]"

// auth names the kind of authentication configured.
func (c Config) auth() string {
	switch {
	case len(c.AuthKey) > 0 && len(c.Certificate) > 0:
		return "token+certificate"
	case len(c.AuthKey) > 0:
		return "token"
	case len(c.Certificate) > 0:
		return "certificate"
	}
	return "none"
}

// String shows the non-secret fields and redacts the rest.
func (c Config) String() string {
	return fmt.Sprintf("apns.Config{BundleID:%q TeamID:%q KeyID:%q Sandbox:%t Host:%q Auth:%s Secrets:%s}",
		c.BundleID, c.TeamID, c.KeyID, c.Sandbox, c.Host, c.auth(), redacted)
}

// GoString is String (for %#v).
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("bundleId", c.BundleID), slog.String("teamId", c.TeamID), slog.String("keyId", c.KeyID),
		slog.Bool("sandbox", c.Sandbox), slog.String("host", c.Host), slog.String("auth", c.auth()),
		slog.String("secrets", redacted),
	)
}

// MarshalJSON writes the non-secret fields only.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"bundleId": c.BundleID, "teamId": c.TeamID, "keyId": c.KeyID, "sandbox": c.Sandbox,
		"host": c.Host, "auth": c.auth(), "secrets": redacted,
	})
}

// Environment variables read by ConfigFromEnv.
const (
	EnvTeamID       = "SWITCHBOARD_APNS_TEAM_ID"
	EnvKeyID        = "SWITCHBOARD_APNS_KEY_ID"
	EnvKeyFile      = "SWITCHBOARD_APNS_KEY_FILE"
	EnvCertFile     = "SWITCHBOARD_APNS_CERT_FILE"
	EnvCertPassword = "SWITCHBOARD_APNS_CERT_PASSWORD"
	EnvBundleID     = "SWITCHBOARD_APNS_BUNDLE_ID"
	EnvEnvironment  = "SWITCHBOARD_APNS_ENVIRONMENT"
)

// ConfigFromEnv reads a Config from the environment through getenv
// (os.Getenv when nil): SWITCHBOARD_APNS_BUNDLE_ID, then either
// SWITCHBOARD_APNS_TEAM_ID, SWITCHBOARD_APNS_KEY_ID and
// SWITCHBOARD_APNS_KEY_FILE (the path of the .p8 file), or
// SWITCHBOARD_APNS_CERT_FILE (a .p12 or PEM file) and
// SWITCHBOARD_APNS_CERT_PASSWORD; SWITCHBOARD_APNS_ENVIRONMENT is
// "production" (the default) or "sandbox". ok is false, with no error, when
// no SWITCHBOARD_APNS_ variable is set: APNs is not configured. The files
// are read here; New checks the rest.
func ConfigFromEnv(getenv func(string) string) (cfg Config, ok bool, err error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	any := false
	for _, k := range []string{EnvTeamID, EnvKeyID, EnvKeyFile, EnvCertFile, EnvCertPassword, EnvBundleID, EnvEnvironment} {
		any = any || getenv(k) != ""
	}
	if !any {
		return Config{}, false, nil
	}
	cfg = Config{TeamID: getenv(EnvTeamID), KeyID: getenv(EnvKeyID), BundleID: getenv(EnvBundleID), CertificatePassword: getenv(EnvCertPassword)}
	switch env := strings.ToLower(getenv(EnvEnvironment)); env {
	case "", "production":
	case "sandbox", "development":
		cfg.Sandbox = true
	default:
		return Config{}, true, fmt.Errorf("apns: %s must be production or sandbox, not %q", EnvEnvironment, env)
	}
	if p := getenv(EnvKeyFile); p != "" {
		if cfg.AuthKey, err = os.ReadFile(p); err != nil {
			return Config{}, true, fmt.Errorf("apns: read the .p8 key: %w", err)
		}
	}
	if p := getenv(EnvCertFile); p != "" {
		if cfg.Certificate, err = os.ReadFile(p); err != nil {
			return Config{}, true, fmt.Errorf("apns: read the certificate: %w", err)
		}
	}
	return cfg, true, nil
}

// validate checks what New needs before it parses the secrets.
func (c Config) validate() error {
	if c.BundleID == "" {
		return errors.New("apns: Config.BundleID is required")
	}
	switch c.auth() {
	case "none":
		return errors.New("apns: configure token authentication (TeamID, KeyID, AuthKey) or a Certificate")
	case "token+certificate":
		return errors.New("apns: configure either token authentication or a Certificate, not both")
	case "token":
		if c.TeamID == "" || c.KeyID == "" {
			return errors.New("apns: token authentication needs TeamID and KeyID")
		}
	}
	return nil
}
