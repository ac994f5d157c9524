package apns_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/adapters/apns"
)

// No way of printing or logging a Config shows its secrets.
func TestConfigRedacts(t *testing.T) {
	key, _ := p8(t)
	secrets := []string{"PRIVATE KEY", string(key[40:80]), "hunter2", "CERTBYTES"}
	for _, c := range []apns.Config{
		{TeamID: teamID, KeyID: keyID, AuthKey: key, BundleID: bundle},
		{Certificate: []byte("CERTBYTES"), CertificatePassword: "hunter2", BundleID: bundle},
	} {
		var logs bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&logs, nil))
		log.Info("config", "apns", c)
		log.Info("config", "ptr", &c)
		js, _ := json.Marshal(c)
		js2, _ := json.Marshal(&c)
		out := strings.Join([]string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %v", c, c, c, c, &c), logs.String(), string(js), string(js2)}, "\n")
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Fatalf("%q leaks in:\n%s", s, out)
			}
		}
		if !strings.Contains(out, bundle) || !strings.Contains(out, "[REDACTED]") {
			t.Fatalf("the non-secret fields are missing:\n%s", out)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	key, _ := p8(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "AuthKey.p8")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	if _, ok, err := apns.ConfigFromEnv(env(nil)); ok || err != nil {
		t.Fatalf("nothing set: ok %v err %v", ok, err)
	}
	cfg, ok, err := apns.ConfigFromEnv(env(map[string]string{
		apns.EnvTeamID: teamID, apns.EnvKeyID: keyID, apns.EnvKeyFile: keyFile, apns.EnvBundleID: bundle, apns.EnvEnvironment: "sandbox",
	}))
	if err != nil || !ok || !bytes.Equal(cfg.AuthKey, key) || cfg.TeamID != teamID || cfg.KeyID != keyID || cfg.BundleID != bundle || !cfg.Sandbox {
		t.Fatalf("%v %v %v", cfg, ok, err)
	}
	if _, err := apns.New(cfg); err != nil {
		t.Fatal(err)
	}
	cfg, _, err = apns.ConfigFromEnv(env(map[string]string{apns.EnvCertFile: "testdata/voip.p12", apns.EnvCertPassword: "test-password", apns.EnvBundleID: bundle}))
	if err != nil || cfg.Sandbox || len(cfg.Certificate) == 0 {
		t.Fatalf("%v %v", cfg, err)
	}
	if _, err := apns.New(cfg); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]map[string]string{
		"missing file": {apns.EnvKeyFile: filepath.Join(dir, "none.p8"), apns.EnvBundleID: bundle},
		"bad env":      {apns.EnvBundleID: bundle, apns.EnvEnvironment: "staging"},
	} {
		if _, ok, err := apns.ConfigFromEnv(env(m)); err == nil || !ok {
			t.Errorf("%s: ok %v err %v", name, ok, err)
		}
	}
}
