package fcm_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"

	"github.com/switchboard-rtc/switchboard/adapters/fcm"
	"github.com/switchboard-rtc/switchboard/push"
)

const clientEmail = "push@test-project.iam.gserviceaccount.com"

// serviceAccount returns a service account key file whose token_uri is
// tokenURI, and its private key.
func serviceAccount(t *testing.T, tokenURI string) ([]byte, *rsa.PrivateKey) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": project, "private_key_id": "key-1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": clientEmail, "client_id": "1", "token_uri": tokenURI,
	})
	return b, k
}

// With a service account, the SDK signs a JWT with its key, trades it at
// the account's token_uri for an access token, and sends with that bearer:
// all of it against local servers.
func TestFCMServiceAccount(t *testing.T) {
	var key atomic.Pointer[rsa.PrivateKey]
	var exchanges atomic.Int32
	tokenEndpoint := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token" || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			t.Errorf("token request %s %v", r.URL.Path, r.PostForm)
			w.WriteHeader(400)
			return
		}
		_, err := jwt.Parse(r.PostForm.Get("assertion"), func(*jwt.Token) (any, error) { return &key.Load().PublicKey, nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(clientEmail), jwt.WithExpirationRequired())
		if err != nil {
			t.Errorf("assertion: %v", err)
			w.WriteHeader(400)
			return
		}
		exchanges.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"sa-access-token","token_type":"Bearer","expires_in":3600}`))
	})
	f := newFakeFCM(t, "sa-access-token", tokenEndpoint)
	sa, k := serviceAccount(t, f.srv.URL+"/token")
	key.Store(k)
	n, err := fcm.New(fcm.Config{ServiceAccountJSON: sa, Endpoint: f.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	wk := push.Wakeup{CallID: "c", ExpiresAt: time.Now().Add(time.Minute)}
	for range 2 {
		if err := n.Send(ctx, push.Device{Platform: push.FCM, Token: "tok"}, wk); err != nil {
			t.Fatal(err)
		}
	}
	if exchanges.Load() != 1 {
		t.Fatalf("%d token exchanges for two sends, want 1 (cached)", exchanges.Load())
	}
}

func TestFCMNewRefuses(t *testing.T) {
	sa, _ := serviceAccount(t, "http://127.0.0.1:1/token")
	if _, err := fcm.New(fcm.Config{ServiceAccountJSON: sa}); err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	_ = json.Unmarshal(sa, &m)
	with := func(k, v string) []byte {
		c := map[string]string{}
		for a, b := range m {
			c[a] = b
		}
		c[k] = v
		b, _ := json.Marshal(c)
		return b
	}
	for name, cfg := range map[string]fcm.Config{
		"nothing":                  {},
		"not JSON":                 {ServiceAccountJSON: []byte("{")},
		"not service account":      {ServiceAccountJSON: with("type", "authorized_user")},
		"key not PEM":              {ServiceAccountJSON: with("private_key", "secret")},
		"key junk":                 {ServiceAccountJSON: with("private_key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")},
		"no project":               {ServiceAccountJSON: with("project_id", "")},
		"token source, no project": {TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"})},
	} {
		if _, err := fcm.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error shows the key: %v", name, err)
		}
	}
}

// No way of printing or logging a Config shows the private key.
func TestFCMConfigRedacts(t *testing.T) {
	sa, _ := serviceAccount(t, "http://127.0.0.1:1/token")
	c := fcm.Config{ServiceAccountJSON: sa, PackageName: pkg}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "fcm", c, "ptr", &c)
	js, _ := json.Marshal(c)
	out := fmt.Sprintf("%v %+v %#v %s %v\n%s\n%s", c, c, c, c, &c, logs.String(), js)
	if strings.Contains(out, "PRIVATE KEY") || strings.Contains(out, "MII") {
		t.Fatalf("the key leaks:\n%s", out)
	}
	if !strings.Contains(out, project) || !strings.Contains(out, clientEmail) || !strings.Contains(out, "[REDACTED]") {
		t.Fatalf("the non-secret fields are missing:\n%s", out)
	}
}

func TestFCMConfigFromEnv(t *testing.T) {
	sa, _ := serviceAccount(t, "http://127.0.0.1:1/token")
	p := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(p, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if _, ok, err := fcm.ConfigFromEnv(env(nil)); ok || err != nil {
		t.Fatalf("nothing set: %v %v", ok, err)
	}
	cfg, ok, err := fcm.ConfigFromEnv(env(map[string]string{fcm.EnvCredentialsFile: p, fcm.EnvPackageName: pkg}))
	if err != nil || !ok || !bytes.Equal(cfg.ServiceAccountJSON, sa) || cfg.PackageName != pkg {
		t.Fatalf("%v %v %v", cfg, ok, err)
	}
	if _, err := fcm.New(cfg); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := fcm.ConfigFromEnv(env(map[string]string{fcm.EnvPackageName: pkg})); !ok || err == nil {
		t.Fatalf("no credentials file: %v %v", ok, err)
	}
	if _, ok, err := fcm.ConfigFromEnv(env(map[string]string{fcm.EnvCredentialsFile: p + ".missing"})); !ok || err == nil {
		t.Fatalf("missing file: %v %v", ok, err)
	}
}
