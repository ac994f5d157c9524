package fcm

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"golang.org/x/oauth2"
)

// Config is one Firebase project's FCM configuration. It holds a secret
// (the service account's private key): its String, GoString, LogValue and
// MarshalJSON methods show only the project, the account's e-mail and the
// package name, so that printing or logging a Config never leaks it.
type Config struct {
	// ServiceAccountJSON is the content of the service account key file
	// downloaded from the Firebase console (required unless TokenSource is
	// set). Its project_id is the default ProjectID.
	ServiceAccountJSON []byte
	// ProjectID is the Firebase project. Default: the service account's.
	ProjectID string
	// PackageName is the Android app's package name. When set, messages are
	// restricted to it (restricted_package_name) and a device whose App
	// names another package is refused. Default: the device's App, if any.
	PackageName string
	// Endpoint replaces FCM's API root, for tests: a local server's URL
	// (messages go to Endpoint + "/projects/<id>/messages:send"). Default:
	// https://fcm.googleapis.com/v1.
	Endpoint string
	// TokenSource replaces the service account's OAuth2 access tokens (tests,
	// or credentials the host obtains otherwise); ProjectID is then required.
	TokenSource oauth2.TokenSource
	// Clock gives the time the TTL is counted from. Nil: the real clock.
	Clock Clock
}

// Clock is the time source of the adapter.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// serviceAccount is what New reads from ServiceAccountJSON.
type serviceAccount struct {
	Type        string `json:"type"`
	ProjectID   string `json:"project_id"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
}

// parseServiceAccount checks the service account file: its type, project,
// e-mail and a private key that parses.
func parseServiceAccount(b []byte) (serviceAccount, error) {
	var sa serviceAccount
	if err := json.Unmarshal(b, &sa); err != nil {
		return sa, errors.New("fcm: the service account is not JSON")
	}
	if sa.Type != "service_account" || sa.ClientEmail == "" || sa.PrivateKey == "" {
		return sa, errors.New(`fcm: the service account needs "type":"service_account", client_email and private_key`)
	}
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		return sa, errors.New("fcm: the service account's private_key is not PEM")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if _, err1 := x509.ParsePKCS1PrivateKey(block.Bytes); err1 != nil {
			return sa, errors.New("fcm: the service account's private_key does not parse")
		}
	}
	return sa, nil
}

const redacted = "[REDACTED]"

// public returns the fields that may be shown.
func (c Config) public() (project, email string) {
	project = c.ProjectID
	var sa serviceAccount
	if json.Unmarshal(c.ServiceAccountJSON, &sa) == nil {
		project, email = cmpOr(project, sa.ProjectID), sa.ClientEmail
	}
	return project, email
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// String shows the non-secret fields and redacts the rest.
func (c Config) String() string {
	project, email := c.public()
	return fmt.Sprintf("fcm.Config{ProjectID:%q ClientEmail:%q PackageName:%q Endpoint:%q Credentials:%s}", project, email, c.PackageName, c.Endpoint, redacted)
}

// GoString is String (for %#v).
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the secret.
func (c Config) LogValue() slog.Value {
	project, email := c.public()
	return slog.GroupValue(slog.String("projectId", project), slog.String("clientEmail", email),
		slog.String("packageName", c.PackageName), slog.String("endpoint", c.Endpoint), slog.String("credentials", redacted))
}

// MarshalJSON writes the non-secret fields only.
func (c Config) MarshalJSON() ([]byte, error) {
	project, email := c.public()
	return json.Marshal(map[string]string{"projectId": project, "clientEmail": email, "packageName": c.PackageName, "endpoint": c.Endpoint, "credentials": redacted})
}

// Environment variables read by ConfigFromEnv.
const (
	EnvCredentialsFile = "SWITCHBOARD_FCM_CREDENTIALS_FILE"
	EnvProjectID       = "SWITCHBOARD_FCM_PROJECT_ID"
	EnvPackageName     = "SWITCHBOARD_FCM_PACKAGE_NAME"
)

// ConfigFromEnv reads a Config from the environment through getenv
// (os.Getenv when nil): SWITCHBOARD_FCM_CREDENTIALS_FILE (the path of the
// service account key file), and optionally SWITCHBOARD_FCM_PROJECT_ID and
// SWITCHBOARD_FCM_PACKAGE_NAME. ok is false, with no error, when no
// SWITCHBOARD_FCM_ variable is set: FCM is not configured.
func ConfigFromEnv(getenv func(string) string) (cfg Config, ok bool, err error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if getenv(EnvCredentialsFile) == "" && getenv(EnvProjectID) == "" && getenv(EnvPackageName) == "" {
		return Config{}, false, nil
	}
	cfg = Config{ProjectID: getenv(EnvProjectID), PackageName: getenv(EnvPackageName)}
	p := getenv(EnvCredentialsFile)
	if p == "" {
		return Config{}, true, fmt.Errorf("fcm: %s is required", EnvCredentialsFile)
	}
	if cfg.ServiceAccountJSON, err = os.ReadFile(p); err != nil {
		return Config{}, true, fmt.Errorf("fcm: read the service account: %w", err)
	}
	return cfg, true, nil
}
