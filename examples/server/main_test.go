package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// startServer runs the example on a free loopback port and returns its base URL.
// Extra flags come after the defaults and override them. It stops without
// draining (-drain-timeout 0: connections left open are closed at once);
// drain_test.go tests the drain.
func startServer(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	base, stop, done := startStoppable(t, env, append([]string{"-drain-timeout", "0"}, args...)...)
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return base
}

// startStoppable runs the example like startServer; stop is what SIGTERM
// does (run's context ends), and done gets run's result. The caller waits
// for done.
func startStoppable(t *testing.T, env map[string]string, args ...string) (base string, stop func(), done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	result := make(chan error, 1)
	go func() {
		result <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-ice-ip", "127.0.0.1"}, args...), pw, func(k string) string { return env[k] })
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	base = strings.TrimSpace(strings.TrimPrefix(line, "switchboard listening on "))
	if _, err := url.Parse(base); err != nil || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("first line %q", line)
	}
	return base, cancel, result
}

// README's promise: curl -u user:secret -d grant_type=client_credentials
// .../oauth2/token returns a token that verifies against .../.well-known/jwks.json.
func TestTokenVerifiesAgainstJWKS(t *testing.T) {
	base := startServer(t, map[string]string{"SWITCHBOARD_API_USER": "demo-user", "SWITCHBOARD_API_SECRET": "demo-secret-0123456789"})

	res, err := http.Get(base + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", err, res)
	}
	res.Body.Close()

	req, _ := http.NewRequest("POST", base+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // what curl -d sends
	req.SetBasicAuth("demo-user", "demo-secret-0123456789")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ID          string `json:"access_token_id"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if res.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token: %d", res.StatusCode)
	}

	set, err := jwk.Fetch(context.Background(), base+"/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.Parse([]byte(tok.AccessToken), jwt.WithKeySet(set), jwt.WithIssuer("switchboard"),
		jwt.WithAudience("switchboard"), jwt.WithAcceptableSkew(30*time.Second))
	if err != nil {
		t.Fatalf("token does not verify against the JWKS: %v", err)
	}
	if jti, _ := parsed.JwtID(); jti != tok.ID {
		t.Errorf("jti %q != access_token_id %q", jti, tok.ID)
	}

	// The admin API accepts the token.
	req, _ = http.NewRequest("POST", base+"/v1/tokens", strings.NewReader(`{"identity":"alice"}`))
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err = http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("/v1/tokens: %v %v", err, res.StatusCode)
	}
	res.Body.Close()
}

func TestGeneratedCredentialsArePrinted(t *testing.T) {
	out := startupOutput(t, nil, 4)
	if !strings.Contains(out, "user:   api") || !strings.Contains(out, "secret: ") {
		t.Fatalf("output:\n%s", out)
	}
}

// startupOutput runs the server with env until it has printed n lines, stops
// it, and returns those lines.
func startupOutput(t *testing.T, env map[string]string, n int) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, pw, func(k string) string { return env[k] })
		pw.Close()
	}()
	r := bufio.NewReader(pr)
	var out strings.Builder
	for range n {
		l, _ := r.ReadString('\n')
		out.WriteString(l)
	}
	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestBadFlag(t *testing.T) {
	err := run(context.Background(), []string{"-ice-ip", "not-an-ip"}, io.Discard, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "not an IP address") {
		t.Fatalf("err = %v", err)
	}
}

// -key loads the signing key: tokens carry its kid, and the JWKS publishes it.
func TestSigningKeyFromPEM(t *testing.T) {
	key, _ := auth.GenerateKey(auth.EdDSA)
	pemBytes, _ := auth.MarshalPrivateKeyPEM(key)
	file := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(file, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := signingKey(file)
	if err != nil || k.ID() != key.ID() || k.Algorithm() != auth.EdDSA {
		t.Fatalf("loaded %v %v", k, err)
	}
	if _, err := signingKey(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Fatal("missing key file accepted")
	}
}

func TestNATFlag(t *testing.T) {
	cfg, err := parseFlags([]string{"-nat-ip", "203.0.113.7", "-nat-ip", "2001:db8::7"}, func(string) string { return "" })
	if err != nil || len(cfg.natIPs) != 2 || cfg.natIPs[0] != "203.0.113.7" {
		t.Fatalf("%v %v", cfg.natIPs, err)
	}
	if _, err := parseFlags([]string{"-nat-ip", "example.com"}, func(string) string { return "" }); err == nil {
		t.Fatal("-nat-ip example.com accepted")
	}
}

// Secrets that come from the environment are never printed; generated
// ones are (the user needs them).
func TestEnvSecretsNotPrinted(t *testing.T) {
	env := map[string]string{"SWITCHBOARD_API_USER": "u-env", "SWITCHBOARD_API_SECRET": "env-api-secret-0123456789",
		"SWITCHBOARD_DEMO_API_SECRET": "env-demo-secret-0123456789"}
	out := startupOutput(t, env, 5)
	if strings.Contains(out, "secret-0123456789") || !strings.Contains(out, "demo-admin (secret from SWITCHBOARD_DEMO_API_SECRET)") {
		t.Fatalf("output:\n%s", out)
	}
}

// -max-participants caps a room: the cap joins, one past it is refused
// with session_full.
func TestMaxParticipantsFlag(t *testing.T) {
	env := map[string]string{"SWITCHBOARD_API_USER": apiUser, "SWITCHBOARD_API_SECRET": apiSecret}
	base := startServer(t, env, "-max-participants", "3", "-demo=false")
	api, err := client.NewAPI("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, id: "single", base: base, api: api}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 3 {
		if _, err := n.dial(fmt.Sprintf("user-%d", i), roomGrantsJSON).Join(ctx, client.JoinRequest{Room: "small"}); err != nil {
			t.Fatalf("participant %d of 3: %v", i+1, err)
		}
	}
	_, err = n.dial("user-3", roomGrantsJSON).Join(ctx, client.JoinRequest{Room: "small"})
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Reason != protocol.ReasonSessionFull {
		t.Fatalf("the 4th of 3: %v", err)
	}
	if _, err := parseFlags([]string{"-max-participants", "1"}, func(string) string { return "" }); err == nil {
		t.Fatal("-max-participants 1 accepted")
	}
}

// -node-ttl is at least 1 s: 1s is taken, 999ms refused.
func TestNodeTTLFlag(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"SWITCHBOARD_CLUSTER_SECRET": strings.Repeat("c", 32)}[k]
	}
	args := func(ttl string) []string {
		return []string{"-redis", "127.0.0.1:6379", "-key", "k.pem", "-node-ttl", ttl}
	}
	if _, err := parseFlags(args("1s"), env); err != nil {
		t.Fatalf("-node-ttl 1s: %v", err)
	}
	if _, err := parseFlags(args("999ms"), env); err == nil {
		t.Fatal("-node-ttl 999ms accepted")
	}
	short := func(k string) string {
		return map[string]string{"SWITCHBOARD_CLUSTER_SECRET": strings.Repeat("c", 31)}[k]
	}
	if _, err := parseFlags(args("1s"), short); err == nil {
		t.Fatal("a 31-byte SWITCHBOARD_CLUSTER_SECRET accepted")
	}
}

// The media and load flags at their limits and one past.
func TestLoadFlagLimits(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"-join-rate", "0.5"}, true}, {[]string{"-join-rate", "0.4"}, false},
		{[]string{"-join-rate", "NaN"}, false}, // no limit at all, silently
		{[]string{"-max-peer-connections", "1"}, true}, {[]string{"-max-peer-connections", "0"}, false},
		{[]string{"-send-batch", "-1"}, true}, {[]string{"-send-batch", "-2"}, false},
	} {
		cfg, err := parseFlags(tc.args, func(string) string { return "" })
		if (err == nil) != tc.ok {
			t.Errorf("%v: err %v", tc.args, err)
		}
		if tc.ok && tc.args[0] == "-join-rate" && cfg.joinRate != 0.5 {
			t.Errorf("-join-rate 0.5 parsed as %v", cfg.joinRate)
		}
	}
}
