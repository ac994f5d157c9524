package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

const (
	opsUser   = "ops-user"
	opsSecret = "ops-secret-0123456789"
)

var opsEnv = map[string]string{"SWITCHBOARD_API_USER": opsUser, "SWITCHBOARD_API_SECRET": opsSecret}

// startServerOutput runs the example with args (after the test defaults)
// until it has printed its startup lines (through "push wake-ups", and
// the metrics line when -metrics-addr is given), and returns them.
func startServerOutput(t *testing.T, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-ice-ip", "127.0.0.1"}, args...), pw, func(k string) string { return opsEnv[k] })
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	metricsLine := false
	for _, a := range args {
		metricsLine = metricsLine || a == "-metrics-addr"
	}
	r := bufio.NewReader(pr)
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("startup output %q: %v", lines, err)
		}
		lines = append(lines, strings.TrimSpace(line))
		if strings.HasPrefix(line, "metrics: ") || !metricsLine && strings.HasPrefix(line, "push wake-ups: ") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, r) }()
	return lines
}

// baseURL is the main listener's URL from the startup lines.
func baseURL(lines []string) string {
	return strings.TrimPrefix(lines[0], "switchboard listening on ")
}

// get requests url with the header h (name, value; none if empty) and
// returns the status, Content-Type and body.
func get(t *testing.T, url string, h ...string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if len(h) == 2 {
		req.Header.Set(h[0], h[1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

// basic is the Authorization header of the API credentials.
func basic() []string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(opsUser, opsSecret)
	return []string{"Authorization", req.Header.Get("Authorization")}
}

// accessToken gets an access token of the API client from /oauth2/token.
func accessToken(t *testing.T, base string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(opsUser, opsSecret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != 200 {
		t.Fatalf("token: %d %v", res.StatusCode, err)
	}
	return tok.AccessToken
}

// switchboardMetrics are metric names every scrape of the example holds.
var switchboardMetrics = []string{
	"switchboard_connections ", "switchboard_rooms{kind=\"room\"} ", "switchboard_participants ",
	"switchboard_calls{state=\"ringing\"} ", "switchboard_tracks ", "switchboard_tracks_published_total ",
	"switchboard_rtp_forwarded_packets_total ", "switchboard_rtp_forwarded_bytes_total ",
	"switchboard_rtcp_nacks_received_total ", "switchboard_rtp_retransmitted_packets_total ",
	"switchboard_network_quality_participants{direction=\"uplink\",level=\"GOOD\"} ",
	"switchboard_rtp_lost_packets_total{direction=\"uplink\"} ",
	"switchboard_oauth_tokens_refused_total{code=\"invalid_client\"} ",
	"switchboard_recordings_active ", "switchboard_recording_written_bytes_total ",
	"go_goroutines ", "process_cpu_seconds_total ",
}

// GET /metrics is the Prometheus text format, behind the admin check by
// default: 401 without credentials, 200 with the API credentials or an
// access token, and it counts what happened (a token issued).
func TestMetricsBehindAdmin(t *testing.T) {
	base := baseURL(startServerOutput(t))
	if code, _, body := get(t, base+"/metrics"); code != http.StatusUnauthorized || !strings.Contains(body, `"code"`) {
		t.Fatalf("without credentials: %d %s", code, body)
	}
	tok := accessToken(t, base)
	for _, h := range [][]string{basic(), {"Authorization", "Bearer " + tok}} {
		code, ctype, body := get(t, base+"/metrics", h...)
		if code != 200 || !strings.HasPrefix(ctype, "text/plain") {
			t.Fatalf("with %s: %d %s", strings.Fields(h[1])[0], code, ctype)
		}
		for _, name := range switchboardMetrics {
			if !strings.Contains(body, "\n"+name) {
				t.Errorf("no %q in\n%s", name, body)
			}
		}
		if !strings.Contains(body, "\nswitchboard_oauth_tokens_issued_total 1\n") {
			t.Errorf("the token issued is not counted")
		}
	}
}

// -metrics public serves it to anyone; -metrics off not at all.
func TestMetricsPublicAndOff(t *testing.T) {
	base := baseURL(startServerOutput(t, "-metrics", "public"))
	if code, _, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "\nswitchboard_connections 0\n") {
		t.Fatalf("public: %d", code)
	}
	base = baseURL(startServerOutput(t, "-metrics", "off"))
	if code, _, _ := get(t, base+"/metrics", basic()...); code != http.StatusNotFound {
		t.Fatalf("off: %d", code)
	}
	if _, err := parseFlags([]string{"-metrics", "open"}, func(string) string { return "" }); err == nil {
		t.Fatal("-metrics open accepted")
	}
}

// -metrics-addr serves /metrics, and nothing else, on a second listener
// without authentication.
func TestMetricsAddr(t *testing.T) {
	lines := startServerOutput(t, "-metrics-addr", "127.0.0.1:0", "-metrics", "off")
	last := lines[len(lines)-1]
	url, ok := strings.CutPrefix(strings.Fields(last)[1], "http://")
	if !ok || !strings.HasPrefix(url, "127.0.0.1:") || !strings.Contains(last, "no authentication") {
		t.Fatalf("metrics line %q", last)
	}
	code, ctype, body := get(t, "http://"+url)
	if code != 200 || !strings.HasPrefix(ctype, "text/plain") || !strings.Contains(body, "\nswitchboard_participants 0\n") {
		t.Fatalf("second listener: %d %s", code, ctype)
	}
	if code, _, _ := get(t, "http://"+strings.TrimSuffix(url, "/metrics")+"/healthz"); code != http.StatusNotFound {
		t.Fatalf("the metrics listener serves /healthz: %d", code)
	}
	if code, _, _ := get(t, baseURL(lines)+"/metrics", basic()...); code != http.StatusNotFound {
		t.Fatalf("-metrics off still serves the main listener: %d", code)
	}
}

// /debug/pprof/ is 404 without -pprof; with it, 401 without credentials,
// 403 for a user's token, 200 for an admin's.
func TestPprof(t *testing.T) {
	base := baseURL(startServerOutput(t))
	if code, _, _ := get(t, base+"/debug/pprof/", basic()...); code != http.StatusNotFound {
		t.Fatalf("without -pprof: %d", code)
	}
	base = baseURL(startServerOutput(t, "-pprof"))
	if code, _, _ := get(t, base+"/debug/pprof/"); code != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d", code)
	}
	tok := accessToken(t, base)
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/tokens", strings.NewReader(`{"identity":"alice"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("user token: %v %v", err, res)
	}
	var user struct {
		Token string `json:"token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&user)
	res.Body.Close()
	if code, _, _ := get(t, base+"/debug/pprof/", "Authorization", "Bearer "+user.Token); code != http.StatusForbidden {
		t.Fatalf("a user's token: %d", code)
	}
	code, _, body := get(t, base+"/debug/pprof/", "Authorization", "Bearer "+tok)
	if code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("admin token: %d", code)
	}
	if code, _, body := get(t, base+"/debug/pprof/goroutine?debug=1", basic()...); code != 200 || !strings.Contains(body, "goroutine profile:") {
		t.Fatalf("goroutine profile: %d", code)
	}
	if code, _, _ := get(t, base+"/debug/pprof/cmdline", basic()...); code != 200 {
		t.Fatalf("cmdline: %d", code)
	}
}
