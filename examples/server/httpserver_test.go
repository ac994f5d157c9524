package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/calling/client"
)

var timeoutEnv = map[string]string{"SWITCHBOARD_API_USER": "u-demo", "SWITCHBOARD_API_SECRET": "s-demo-0123456789abc"}

// waitClosed reads conn until the server closes it and returns how long
// that took; it fails the test if conn is still open after limit.
func waitClosed(t *testing.T, conn net.Conn, r io.Reader, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the connection is still open after %v", limit)
	}
	return time.Since(start)
}

// A request body trickled a byte at a time is cut off after -http-read-timeout.
func TestSlowBodyIsCut(t *testing.T) {
	base := startServer(t, timeoutEnv, "-http-read-timeout", "300ms", "-http-read-header-timeout", "300ms")
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /oauth2/token HTTP/1.1\r\nHost: x\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	trickled := make(chan int, 1)
	go func() { // a byte every 20 ms: the whole body would take 20 s
		n := 0
		defer func() { trickled <- n }()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n < 1000 {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte("g")); err != nil {
				return
			}
			n++
		}
	}()
	took := waitClosed(t, conn, conn, 5*time.Second)
	cancel()
	n := <-trickled
	t.Logf("closed after %v and %d body bytes", took.Round(time.Millisecond), n)
	if n >= 1000 {
		t.Fatal("the whole body was read")
	}
}

// An idle keep-alive connection is closed after -http-idle-timeout.
func TestIdleKeepAliveIsClosed(t *testing.T) {
	base := startServer(t, timeoutEnv, "-http-idle-timeout", "300ms")
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Close {
		t.Fatalf("healthz: %d, close=%v", res.StatusCode, res.Close)
	}
	took := waitClosed(t, conn, br, 5*time.Second)
	if took < 200*time.Millisecond {
		t.Fatalf("closed after %v, before the idle timeout", took)
	}
}

// The signaling WebSocket is exempt from the read and write timeouts: it
// still carries a join after both have passed.
func TestSignalingOutlivesTimeouts(t *testing.T) {
	base := startServer(t, timeoutEnv, "-http-read-timeout", "200ms", "-http-write-timeout", "200ms",
		"-http-read-header-timeout", "200ms", "-http-idle-timeout", "200ms")
	req, _ := http.NewRequest("POST", base+"/v1/tokens", strings.NewReader(`{"identity":"alice","grants":{"rooms":["*"]}}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(timeoutEnv["SWITCHBOARD_API_USER"], timeoutEnv["SWITCHBOARD_API_SECRET"])
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("token: %v %v", err, res)
	}
	var tok struct{ Token string }
	_ = jsonDecode(res, &tok)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	api, err := client.NewAPI("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(ctx, client.Config{URL: "ws" + strings.TrimPrefix(base, "http") + "/v1/signal", Token: tok.Token, API: api})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Let every timeout pass (this waits on the clock on purpose: the
	// deadlines under test are the server's wall-clock ones).
	select {
	case <-c.Done():
		t.Fatalf("signaling closed during the wait: %v", c.Err())
	case <-time.After(700 * time.Millisecond):
	}
	if _, err := c.Join(ctx, client.JoinRequest{Room: "long"}); err != nil {
		t.Fatalf("join after the timeouts: %v (connection error %v)", err, c.Err())
	}
}

func jsonDecode(res *http.Response, v any) error {
	defer res.Body.Close()
	return json.NewDecoder(res.Body).Decode(v)
}
