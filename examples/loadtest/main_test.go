package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/rooms"
)

const testUser, testSecret = "load-api", "load-secret-0123456789"

// startServer serves a Switchboard composed as examples/server composes it
// (token API behind the API credentials, rooms, signaling on loopback).
func startServer(t *testing.T) string {
	t.Helper()
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	issuer, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	replay := auth.NewMemoryReplayCache(auth.MemoryReplayCacheConfig{})
	verifier, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: replay})
	apiClient, err := auth.NewClient(testUser, testSecret, "default")
	if err != nil {
		t.Fatal(err)
	}
	creds := auth.NewMemoryCredentialStore(apiClient)
	tokens, err := auth.NewTokensAPI(auth.TokensAPIConfig{Issuer: issuer, Replay: replay})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := rooms.NewManager(rooms.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := calling.New(calling.Config{Rooms: mgr, Verifier: verifier, Media: calling.MediaConfig{ICEIPs: []string{"127.0.0.1"}}})
	if err != nil {
		t.Fatal(err)
	}
	admin := auth.NewMiddleware(auth.MiddlewareConfig{Verifier: verifier, Credentials: creds, Require: []auth.Grant{auth.GrantAdmin}})
	mux := http.NewServeMux()
	mux.Handle("/v1/signal", srv)
	mux.Handle("/v1/tokens", http.StripPrefix("/v1", admin(tokens)))
	hs := httptest.NewServer(mux)
	t.Cleanup(func() { hs.Close(); _ = srv.Close() })
	return hs.URL
}

func testConfig(t *testing.T, url string, args ...string) config {
	t.Helper()
	env := map[string]string{"SWITCHBOARD_API_USER": testUser, "SWITCHBOARD_API_SECRET": testSecret}
	cfg, err := parseFlags(append([]string{"-url", url}, args...), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The smoke run (correctness, not speed): 2 rooms of 3 for 2 s, everyone
// joins, hears everyone else, nothing is lost and nothing fails.
func TestSmoke(t *testing.T) {
	url := startServer(t)
	cfg := testConfig(t, url, "-rooms", "2", "-participants", "3", "-duration", "2s", "-join-rate", "50", "-server-pid", "0")
	cfg.serverPID = os.Getpid() // the server runs in this process here
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	_ = rep.write(&out, false)
	t.Log("\n" + out.String())
	switch {
	case len(rep.Errors) > 0:
		t.Fatalf("errors %v", rep.Errors)
	case rep.Joined != 6:
		t.Fatalf("joined %d of 6", rep.Joined)
	case rep.Sent < 6*50 || rep.Expected != 2*rep.Sent: // 6 publishers, 2 s at 50/s; each heard by 2
		t.Fatalf("sent %d, expected %d", rep.Sent, rep.Expected)
	case rep.LossPct >= 1:
		t.Fatalf("loss %.2f %%", rep.LossPct)
	case rep.FirstMediaMs.P50 <= 0 || rep.FirstMediaMs.P99 < rep.FirstMediaMs.P50:
		t.Fatalf("first media %+v", rep.FirstMediaMs)
	case rep.ServerCPUSeconds <= 0 || rep.ServerRSSMiB <= 0:
		t.Fatalf("server figures %+v", rep)
	}
}

func TestPercentilesAndLoss(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want percentiles
	}{
		{nil, percentiles{}},
		{[]float64{7}, percentiles{7, 7, 7}},
		{[]float64{5, 1, 4, 2, 3}, percentiles{3, 5, 5}},
		{func() []float64 {
			var xs []float64
			for i := 100; i >= 1; i-- {
				xs = append(xs, float64(i))
			}
			return xs
		}(), percentiles{50, 95, 99}},
	} {
		if got := percentilesOf(tc.xs); got != tc.want {
			t.Errorf("percentiles of %v: %+v, want %+v", tc.xs, got, tc.want)
		}
	}
	for _, tc := range []struct {
		expected, received int64
		want               float64
	}{{0, 0, 0}, {100, 100, 0}, {200, 199, 0.5}, {4, 0, 100}} {
		if got := lossPct(tc.expected, tc.received); got != tc.want {
			t.Errorf("loss %d/%d: %v, want %v", tc.received, tc.expected, got, tc.want)
		}
	}
}

func TestBadFlags(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"SWITCHBOARD_API_USER": "u", "SWITCHBOARD_API_SECRET": "s"}[k]
	}
	for _, args := range [][]string{
		{"-rooms", "0"}, {"-participants", "1"}, {"-participants", "3", "-publishers", "4"},
		{"-duration", "0s"}, {"-ice-ip", "localhost"}, {"-payload", "4"}, {"-url", "ftp://x"}, {"-nope"},
	} {
		if _, err := parseFlags(args, env); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	if _, err := parseFlags(nil, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_API_USER") {
		t.Errorf("no credentials: %v", err)
	}
}

func TestMain(m *testing.M) {
	if mode := os.Getenv(forwarderEnv); mode != "" { // this binary as a baseline's forwarder
		if err := runForwarder(mode, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Both baselines forward every packet to the rest of its room, from a
// separate process whose CPU is measured.
func TestBaselines(t *testing.T) {
	for _, mode := range []string{"sendto", "sendmmsg"} {
		t.Run(mode, func(t *testing.T) {
			cfg, err := parseFlags([]string{"-baseline", mode, "-rooms", "2", "-participants", "3", "-publishers", "2", "-duration", "1s"}, func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := runBaseline(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case len(rep.Errors) > 0 || rep.Joined != 6:
				t.Fatalf("joined %d, errors %v", rep.Joined, rep.Errors)
			case rep.Sent != 4*50 || rep.Expected != 2*rep.Sent: // 4 publishers, 1 s at 50/s; each heard by 2
				t.Fatalf("sent %d, expected %d", rep.Sent, rep.Expected)
			case rep.LossPct >= 1 || rep.Received > rep.Expected:
				t.Fatalf("received %d of %d", rep.Received, rep.Expected)
			// The forwarder's CPU in the 1 s window can be under one
			// clock tick of /proc (10 ms) for 400 datagrams: 0 is a
			// reading, a negative one is not.
			case rep.ServerCPUSeconds < 0 || rep.ServerRSSMiB <= 0:
				t.Fatalf("forwarder figures %+v", rep)
			}
		})
	}
	if _, err := parseFlags([]string{"-baseline", "write"}, func(string) string { return "" }); err == nil {
		t.Error("-baseline write accepted")
	}
}
