package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The Firefox end-to-end test: a headless Firefox ESR page and a headless
// Chromium page use the demo together, driven by puppeteer-core from the
// Node script e2e/firefox.mjs (WebDriver BiDi for Firefox, CDP for
// Chromium; puppeteer-core downloads no browser). In one room each must
// receive the other's audio and video, labelled with the sender's
// participant and stream alias, and a REST broadcast; then Firefox calls
// Chromium in phone mode: ringing, confirmed, audio both ways, DTMF both
// ways (signaled, and in the audio stream as RFC 4733 telephone events that
// must reach the listener as telephone events), hold and hang-up.
//
// Needs Firefox ESR, Chromium, Node and `npm ci` in e2e/. Like TestBrowser it
// runs inside a loopback-only network namespace, and with
// SWITCHBOARD_REQUIRE_BROWSER=1 anything missing fails the test instead of
// skipping it.
const firefoxPath = "/usr/bin/firefox-esr"

// firefoxResult is what e2e/firefox.mjs prints as its last line.
type firefoxResult struct {
	OK      bool             `json:"ok"`
	Timings map[string]int64 `json:"timings"`
	Checks  []struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	} `json:"checks"`
	Error string `json:"error"`
}

func TestFirefox(t *testing.T) {
	for _, need := range []struct{ path, hint string }{
		{firefoxPath, "apt-get install -y firefox-esr"},
		{chromiumPath, "apt-get install -y chromium"},
		{filepath.Join("e2e", "node_modules", "puppeteer-core", "package.json"), "run npm ci in examples/server/e2e"},
	} {
		if _, err := os.Stat(need.path); err != nil {
			requireBrowser(t, "no %s: %s", need.path, need.hint)
		}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		requireBrowser(t, "no node in PATH: apt-get install -y nodejs")
	}
	if reranInLoopbackNamespace(t) {
		return
	}
	env := map[string]string{"SWITCHBOARD_API_USER": "e2e-user", "SWITCHBOARD_API_SECRET": "e2e-secret-0123456789",
		"SWITCHBOARD_DEMO_API_SECRET": "e2e-demo-secret-0123456789"}
	base := startServer(t, env)

	// The script gives itself 50 s (E2E_TIMEOUT_MS); this is the backstop.
	ctx, cancel := context.WithTimeout(context.Background(), 56*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "firefox.mjs")
	cmd.Dir = "e2e"
	// On time out, SIGTERM first: puppeteer then kills the browsers it
	// started (they run in process groups of their own); SIGKILL 3 s later.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 3 * time.Second
	cmd.Env = append(os.Environ(),
		"SWITCHBOARD_BASE="+base,
		// The demo pages' rooms are in the demo account: its API client broadcasts.
		"SWITCHBOARD_API_USER="+demoAPIUser,
		"SWITCHBOARD_API_SECRET="+env["SWITCHBOARD_DEMO_API_SECRET"],
		"FIREFOX_PATH="+firefoxPath,
		"CHROMIUM_PATH="+chromiumPath,
		"FIREFOX_PROFILE="+t.TempDir(), // a fresh profile per run
		"CHROMIUM_PROFILE="+t.TempDir(),
		"E2E_TIMEOUT_MS=50000",
		"E2E_VERBOSE=1",
		"PUPPETEER_SKIP_DOWNLOAD=1", // never fetch a browser
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("node e2e/firefox.mjs ran %v; its log:\n%s", time.Since(start).Round(time.Millisecond), stderr.String())

	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	var res firefoxResult
	if err := json.Unmarshal(lines[len(lines)-1], &res); err != nil {
		t.Fatalf("no result from firefox.mjs (%v, exit: %v); stdout:\n%s", err, runErr, stdout.String())
	}
	t.Logf("timings (ms): %v", res.Timings)
	for _, c := range res.Checks {
		if !c.OK {
			t.Errorf("%s: failed; %s", c.Name, c.Detail)
		}
	}
	if res.Error != "" {
		t.Errorf("firefox.mjs stopped: %s", res.Error)
	}
	if len(res.Checks) == 0 {
		t.Error("firefox.mjs made no check")
	}
	var exit *exec.ExitError
	if runErr != nil && !(errors.As(runErr, &exit) && !res.OK) {
		t.Errorf("firefox.mjs: %v", runErr)
	}
}
