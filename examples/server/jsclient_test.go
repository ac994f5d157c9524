package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"testing"
)

// switchboard.js follows a reconnect message (the server is draining): it
// emits reconnect, ends its session, rejects pending requests, closes its
// connection and connects to the given URL (or the same one) with a fresh
// token, retrying a refusal with backoff until reconnectTimeoutMs. The
// script e2e/reconnect.mjs runs the real switchboard.js in Node against a
// WebSocket stand-in (Node 20 has no WebSocket); the server side of
// draining is tested in calling (drain_test.go) and drain_test.go here.
func TestJSReconnect(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		requireBrowser(t, "no node in PATH: apt-get install -y nodejs")
	}
	out, err := exec.Command(node, "e2e/reconnect.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	var res struct {
		OK     bool `json:"ok"`
		Checks []struct {
			Name, Detail string
			OK           bool
		} `json:"checks"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(lines[len(lines)-1], &res); err != nil {
		t.Fatalf("no result line: %v\n%s", err, out)
	}
	for _, c := range res.Checks {
		if !c.OK {
			t.Errorf("%s: %s", c.Name, c.Detail)
		}
	}
	if res.Error != "" || !res.OK || len(res.Checks) < 10 {
		t.Fatalf("switchboard.js reconnect: ok=%v, %d checks, error %s", res.OK, len(res.Checks), res.Error)
	}
}
