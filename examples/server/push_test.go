package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/push"
)

const (
	apnsTeam   = "TEAM123456"
	apnsKeyID  = "KEY7654321"
	apnsBundle = "com.example.phone"
	apiUser    = "u-push"
	apiSecret  = "s-push-0123456789abc"
)

// fakeAPNs stands in for APNs: an HTTP/2 TLS server that checks every
// request as APNs would (path, headers, the provider token's ES256
// signature, kid and iss) and hands each push to the test.
type fakeAPNs struct {
	t      *testing.T
	srv    *httptest.Server
	pub    *ecdsa.PublicKey
	pushes chan apnsPush
}

type apnsPush struct {
	at      time.Time
	token   string
	header  http.Header
	payload map[string]any
}

func newFakeAPNs(t *testing.T, pub *ecdsa.PublicKey) *fakeAPNs {
	f := &fakeAPNs{t: t, pub: pub, pushes: make(chan apnsPush, 16)}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.EnableHTTP2 = true
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPNs) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	fail := func(format string, args ...any) {
		f.t.Errorf("fake APNs: "+format, args...)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"reason":"TestFailure"}`)
	}
	token, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	if r.ProtoMajor != 2 || r.Method != http.MethodPost || !ok || token == "" {
		fail("%s %s over HTTP/%d", r.Method, r.URL.Path, r.ProtoMajor)
		return
	}
	for h, want := range map[string]string{"apns-push-type": "voip", "apns-topic": apnsBundle + ".voip", "apns-priority": "10", "apns-expiration": "0"} {
		if got := r.Header.Values(h); len(got) != 1 || got[0] != want {
			fail("%s: %q, want %q", h, got, want)
			return
		}
	}
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "bearer ")
	if !ok {
		fail("authorization %q", r.Header.Get("Authorization"))
		return
	}
	if _, err := jwt.Parse(bearer, func(tok *jwt.Token) (any, error) {
		if tok.Header["kid"] != apnsKeyID {
			return nil, fmt.Errorf("kid %v", tok.Header["kid"])
		}
		return f.pub, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(apnsTeam), jwt.WithIssuedAt()); err != nil {
		fail("provider token: %v", err)
		return
	}
	p := apnsPush{at: at, token: token, header: r.Header.Clone()}
	if err := json.NewDecoder(r.Body).Decode(&p.payload); err != nil {
		fail("payload: %v", err)
		return
	}
	w.Header().Set("apns-id", "00000000-0000-0000-0000-000000000001")
	w.WriteHeader(http.StatusOK)
	f.pushes <- p
}

// syncBuffer is the server's log, written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// pushEnv is the example's app with APNs configured (from the environment,
// as a deployment does) and pointed at a fake.
type pushEnv struct {
	t    *testing.T
	base string
	apns *fakeAPNs
	logs *syncBuffer
	api  *webrtc.API
	// signalEnded receives once per signaling connection the server has
	// finished with (the callee is offline from then on).
	signalEnded chan struct{}
	// hooks receives the bodies the webhook receiver got.
	hooks chan []byte
}

func newPushEnv(t *testing.T, ringTimeout time.Duration) *pushEnv {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	keyFile := filepath.Join(t.TempDir(), "AuthKey_"+apnsKeyID+".p8")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := newFakeAPNs(t, &k.PublicKey)
	hooks := make(chan []byte, 64)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case hooks <- b:
		default:
		}
	}))
	t.Cleanup(receiver.Close)
	env := map[string]string{"SWITCHBOARD_API_USER": apiUser, "SWITCHBOARD_API_SECRET": apiSecret,
		"SWITCHBOARD_WEBHOOK_SECRET": "a-webhook-secret-of-some-length",
		"SWITCHBOARD_APNS_TEAM_ID":   apnsTeam, "SWITCHBOARD_APNS_KEY_ID": apnsKeyID,
		"SWITCHBOARD_APNS_KEY_FILE": keyFile, "SWITCHBOARD_APNS_BUNDLE_ID": apnsBundle}
	cfg, err := parseFlags([]string{"-ice-ip", "127.0.0.1", "-demo=false", "-ring-timeout", ringTimeout.String(), "-webhook-url", receiver.URL}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.push.apns == nil || cfg.push.fcm != nil {
		t.Fatalf("push from the environment: %s", cfg.push)
	}
	roots := x509.NewCertPool()
	roots.AddCert(fake.srv.Certificate())
	cfg.push.apns.Host, cfg.push.apns.RootCAs = fake.srv.URL, roots
	logs := &syncBuffer{}
	a, err := newApp(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	e := &pushEnv{t: t, apns: fake, logs: logs, signalEnded: make(chan struct{}, 16), hooks: hooks}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.handler.ServeHTTP(w, r)
		if r.URL.Path == "/v1/signal" {
			e.signalEnded <- struct{}{}
		}
	}))
	t.Cleanup(func() { a.close(); srv.Close() })
	e.base = srv.URL
	if e.api, err = client.NewAPI("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	return e
}

// request sends a JSON request with the API credentials (token "") or a
// user token and decodes the answer into out; it returns the status.
func (e *pushEnv) request(token, method, path, body string, out any) int {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token == "" {
		req.SetBasicAuth(apiUser, apiSecret)
	} else {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

// userToken mints a user token for identity with the call grants.
func (e *pushEnv) userToken(identity string) string {
	e.t.Helper()
	var tok struct{ Token string }
	if st := e.request("", "POST", "/v1/tokens", `{"identity":"`+identity+`","grants":{"outgoing":true,"incoming":true,"publish":["AUDIO"]}}`, &tok); st != 201 {
		e.t.Fatalf("token for %s: %d", identity, st)
	}
	return tok.Token
}

// dial connects with token and publishes a microphone that sends until
// the test ends.
func (e *pushEnv) dial(token string) *client.Client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{URL: "ws" + strings.TrimPrefix(e.base, "http") + "/v1/signal", Token: token, API: e.api})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "x")
	if err := c.Publish("microphone", mic); err != nil {
		e.t.Fatal(err)
	}
	sendCtx, stop := context.WithCancel(context.Background())
	e.t.Cleanup(stop)
	go sendOpus(sendCtx, mic)
	return c
}

// sendOpus writes a 20 ms Opus-shaped packet every 20 ms until ctx ends.
func sendOpus(ctx context.Context, track *webrtc.TrackLocalStaticRTP) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for n := uint32(1); ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: n * 960, Marker: true},
			Payload: []byte{0xFC, byte(n), byte(n >> 8), 0, 0, 0, 0, 0}})
	}
}

// callStates collects c's callState messages for callID until one is in
// until, and returns them as "state" or "state(cause)".
func callStates(t *testing.T, c *client.Client, callID string, until ...protocol.CallState) []string {
	t.Helper()
	deadline := time.After(15 * time.Second)
	var got []string
	for {
		select {
		case m := <-c.Events():
			if m.Type != protocol.TypeCallState || m.CallID != callID {
				continue
			}
			s := string(m.State)
			if m.Cause != "" {
				s += "(" + string(m.Cause) + ")"
			}
			got = append(got, s)
			for _, u := range until {
				if m.State == u {
					return got
				}
			}
		case <-deadline:
			t.Fatalf("call states so far %v, waiting for %v", got, until)
		}
	}
}

// waitIncoming waits for c's next incoming call.
func waitIncoming(t *testing.T, c *client.Client) protocol.Message {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-c.Events():
			if m.Type == protocol.TypeIncoming {
				return m
			}
		case <-deadline:
			t.Fatal("no incoming call")
		}
	}
}

// registerAndSleep is the phone going to sleep: the callee connects,
// registers its device with its own token, and disconnects; it returns
// the push token once the server has seen the connection end.
func (e *pushEnv) registerAndSleep(calleeToken string) (pushToken, deviceID string) {
	e.t.Helper()
	callee := e.dial(calleeToken)
	pushToken = strings.Repeat("5f2a", 16)
	var dev struct{ ID, Token string }
	if st := e.request(calleeToken, "POST", "/v1/devices", `{"platform":"apns","token":"`+pushToken+`","app":"`+apnsBundle+`"}`, &dev); st != 201 || dev.Token != pushToken {
		e.t.Fatalf("register: %d %+v", st, dev)
	}
	_ = callee.Close()
	select {
	case <-e.signalEnded:
	case <-time.After(10 * time.Second):
		e.t.Fatal("the server did not end the callee's connection")
	}
	return pushToken, dev.ID
}

// waitPush waits for the fake APNs to receive a push at most within
// after start.
func (e *pushEnv) waitPush(start time.Time, within time.Duration) apnsPush {
	e.t.Helper()
	select {
	case p := <-e.apns.pushes:
		if took := p.at.Sub(start); took > within {
			e.t.Fatalf("the push arrived %v after the call was placed, more than %v", took, within)
		}
		return p
	case <-time.After(time.Until(start.Add(within))):
		e.t.Fatalf("no push within %v", within)
	}
	return apnsPush{}
}

// checkPush checks the push's token, collapse id and payload: the call,
// its parties, and an expiry one ring timeout after the call was placed
// (no sooner than expiresAfter); hasVideo is video.
func checkPush(t *testing.T, p apnsPush, pushToken, callID string, video bool, ring time.Duration, expiresAfter time.Time) {
	t.Helper()
	if p.token != pushToken || p.header.Get("apns-collapse-id") != callID {
		t.Fatalf("push to %s, collapse id %q; want %s, %q", p.token, p.header.Get("apns-collapse-id"), pushToken, callID)
	}
	pl := p.payload
	if pl["type"] != "incoming_call" || pl["callId"] != callID || pl["from"] != "alice" || pl["to"] != "bob" ||
		pl["displayName"] != "alice" || pl["hasVideo"] != video {
		t.Fatalf("payload %v", pl)
	}
	exp, _ := pl["expiresAtMs"].(float64)
	if at := time.UnixMilli(int64(exp)); at.Before(expiresAfter.Truncate(time.Millisecond)) || at.After(p.at.Add(ring)) {
		t.Fatalf("payload expires at %v, want the ring timeout (%v) after the call was placed, %v", at, ring, expiresAfter)
	}
}

// The callee's phone sleeps with a registered device: a call wakes it with
// a VoIP push within 1 s; it connects, accepts, and the call is confirmed.
// Outcomes are logged by device id, never by push token.
func TestPushWakesCalleeWhoAnswers(t *testing.T) {
	const ring = 45 * time.Second
	e := newPushEnv(t, ring)
	bobToken := e.userToken("bob")
	pushToken, deviceID := e.registerAndSleep(bobToken)

	alice := e.dial(e.userToken("alice"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	id, err := alice.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	p := e.waitPush(start, time.Second)
	t.Logf("push received %v after the call was placed", p.at.Sub(start).Round(time.Millisecond))
	checkPush(t, p, pushToken, id, false, ring, start.Add(ring))
	if got := callStates(t, alice, id, protocol.StateRinging); strings.Join(got, " ") != "connecting ringing" {
		t.Fatalf("alice before the answer: %v", got)
	}

	bob := e.dial(bobToken) // the push woke the app: it connects
	if in := waitIncoming(t, bob); in.CallID != id || in.From != "alice" {
		t.Fatalf("incoming %+v", in)
	}
	if err := bob.Accept(id, protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	if got := callStates(t, alice, id, protocol.StateConfirmed, protocol.StateEnded, protocol.StateFailed); strings.Join(got, " ") != "accepted confirmed" {
		t.Fatalf("alice after the answer: %v", got)
	}
	t.Logf("confirmed %v after the call was placed", time.Since(start).Round(time.Millisecond))
	if err := alice.Hangup(id); err != nil {
		t.Fatal(err)
	}
	if got := callStates(t, bob, id, protocol.StateEnded, protocol.StateFailed); got[len(got)-1] != "ended(normal)" {
		t.Fatalf("bob: %v", got)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "outcome=delivered call="+id+" device="+deviceID) || strings.Contains(logs, pushToken) {
		t.Fatalf("log (want the delivery by device id, never the push token):\n%s", logs)
	}
	// The outcome reaches the webhook receiver too, by device id.
	for {
		select {
		case b := <-e.hooks:
			var ev struct {
				Event string       `json:"event"`
				Data  push.Outcome `json:"data"`
			}
			_ = json.Unmarshal(b, &ev)
			if ev.Event != "push.outcome" {
				continue
			}
			if ev.Data.Kind != push.OutcomeDelivered || ev.Data.CallID != id || ev.Data.DeviceID != deviceID || strings.Contains(string(b), pushToken) {
				t.Fatalf("push.outcome webhook: %s", b)
			}
			return
		case <-ctx.Done():
			t.Fatal("no push.outcome webhook")
		}
	}
}

// The callee's phone never wakes: the call rings for the ring timeout and
// ends no_answer. A video call says so in the push.
func TestPushCalleeNeverWakes(t *testing.T) {
	const ring = time.Second
	e := newPushEnv(t, ring)
	pushToken, _ := e.registerAndSleep(e.userToken("bob"))

	alice := e.dial(e.userToken("alice"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	id, err := alice.Call(ctx, "bob", protocol.CallOptions{Audio: true, Video: true})
	if err != nil {
		t.Fatal(err)
	}
	checkPush(t, e.waitPush(start, time.Second), pushToken, id, true, ring, start.Add(ring))
	got := callStates(t, alice, id, protocol.StateEnded, protocol.StateFailed)
	took := time.Since(start)
	if strings.Join(got, " ") != "connecting ringing ended(no_answer)" || took < ring {
		t.Fatalf("alice: %v after %v (ring timeout %v)", got, took, ring)
	}
	t.Logf("no_answer after %v (ring timeout %v)", took.Round(time.Millisecond), ring)
}

// The push providers' secrets (the .p8 key, the service account's private
// key) never reach the startup output, which names the providers.
func TestPushSecretsNotPrinted(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	p8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rder, _ := x509.MarshalPKCS8PrivateKey(rk)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rder})
	sa, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": "switchboard-test",
		"client_email": "push@switchboard-test.iam.gserviceaccount.com", "private_key": string(rsaPEM), "token_uri": "http://127.0.0.1:1/token"})
	dir := t.TempDir()
	keyFile, saFile := filepath.Join(dir, "key.p8"), filepath.Join(dir, "sa.json")
	if os.WriteFile(keyFile, p8, 0o600) != nil || os.WriteFile(saFile, sa, 0o600) != nil {
		t.Fatal("write the credentials")
	}
	env := map[string]string{"SWITCHBOARD_API_USER": apiUser, "SWITCHBOARD_API_SECRET": apiSecret, "SWITCHBOARD_DEMO_API_SECRET": "d-push-0123456789abc",
		"SWITCHBOARD_APNS_TEAM_ID": apnsTeam, "SWITCHBOARD_APNS_KEY_ID": apnsKeyID, "SWITCHBOARD_APNS_KEY_FILE": keyFile,
		"SWITCHBOARD_APNS_BUNDLE_ID": apnsBundle, "SWITCHBOARD_FCM_CREDENTIALS_FILE": saFile}
	out := startupOutput(t, env, 6)
	last := out[strings.LastIndex(strings.TrimSuffix(out, "\n"), "\n")+1:]
	if !strings.HasPrefix(last, "push wake-ups: ") || !strings.Contains(last, apnsBundle) || !strings.Contains(last, "switchboard-test") {
		t.Fatalf("output:\n%s", out)
	}
	for _, secret := range [][]byte{p8, rsaPEM} {
		body := strings.Split(string(secret), "\n")[1] // a line of the key's base64
		if strings.Contains(out, body) || strings.Contains(out, "PRIVATE KEY") {
			t.Fatalf("a key is in the output:\n%s", out)
		}
	}
	if off := startupOutput(t, nil, 10); !strings.Contains(off, "push wake-ups: off") {
		t.Fatalf("output without push:\n%s", off)
	}
}
