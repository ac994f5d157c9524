package apns_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-rtc/switchboard/adapters/apns"
	"github.com/switchboard-rtc/switchboard/push"
)

const (
	teamID = "TEAM123456"
	keyID  = "KEY7654321"
	bundle = "com.example.app"
)

var ctx = context.Background()

// fakeAPNs stands in for APNs: an HTTP/2 TLS server that checks every
// request as APNs would see it and answers from a script.
type fakeAPNs struct {
	t   *testing.T
	srv *httptest.Server
	pub *ecdsa.PublicKey // nil: no provider token expected (certificate auth)

	mu       sync.Mutex
	answers  []answer
	requests []request
	hang     bool
}

type answer struct {
	status int
	reason string
}

type request struct {
	token   string
	header  http.Header
	payload map[string]any
	claims  jwt.MapClaims
}

func newFakeAPNs(t *testing.T, pub *ecdsa.PublicKey) *fakeAPNs {
	f := &fakeAPNs{t: t, pub: pub}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.EnableHTTP2 = true
	return f
}

func (f *fakeAPNs) start() *fakeAPNs {
	f.srv.StartTLS()
	f.t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPNs) script(a ...answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = append(f.answers, a...)
}

func (f *fakeAPNs) got() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

func (f *fakeAPNs) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	hang := f.hang
	f.mu.Unlock()
	if hang {
		<-r.Context().Done()
		return
	}
	fail := func(format string, args ...any) {
		f.t.Errorf(format, args...)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"reason":"TestFailure"}`)
	}
	if r.ProtoMajor != 2 || r.Method != http.MethodPost {
		fail("%s %s over HTTP/%d", r.Method, r.URL.Path, r.ProtoMajor)
		return
	}
	token, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	if !ok || token == "" {
		fail("path %s", r.URL.Path)
		return
	}
	req := request{token: token, header: r.Header.Clone()}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		req.header.Set("X-Client-CN", r.TLS.PeerCertificates[0].Subject.CommonName)
	}
	for h, want := range map[string]string{"apns-push-type": "voip", "apns-topic": bundle + ".voip", "apns-priority": "10", "apns-expiration": "0"} {
		if got := r.Header.Values(h); len(got) != 1 || got[0] != want {
			fail("%s: %q, want %q", h, got, want)
			return
		}
	}
	if r.Header.Get("apns-collapse-id") == "" {
		fail("no apns-collapse-id")
		return
	}
	if f.pub != nil {
		bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "bearer ")
		if !ok {
			fail("authorization %q", r.Header.Get("Authorization"))
			return
		}
		tok, err := jwt.Parse(bearer, func(tok *jwt.Token) (any, error) {
			if tok.Header["kid"] != keyID {
				return nil, fmt.Errorf("kid %v", tok.Header["kid"])
			}
			return f.pub, nil
		}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(teamID), jwt.WithIssuedAt())
		if err != nil {
			fail("provider token: %v", err)
			return
		}
		req.claims = tok.Claims.(jwt.MapClaims)
	} else if r.Header.Get("Authorization") != "" || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		fail("certificate auth: authorization %q, client certificates %d", r.Header.Get("Authorization"), len(r.TLS.PeerCertificates))
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&req.payload); err != nil {
		fail("payload: %v", err)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	a := answer{status: 200}
	if len(f.answers) > 0 {
		a, f.answers = f.answers[0], f.answers[1:]
	}
	f.mu.Unlock()
	w.Header().Set("apns-id", "00000000-0000-0000-0000-000000000001")
	w.WriteHeader(a.status)
	if a.status != 200 {
		_, _ = fmt.Fprintf(w, `{"reason":%q,"timestamp":%d}`, a.reason, time.Now().UnixMilli())
	}
}

// p8 returns a fresh .p8 key (PEM, PKCS #8) and its public half.
func p8(t *testing.T) ([]byte, *ecdsa.PublicKey) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), &k.PublicKey
}

func (f *fakeAPNs) config(key []byte) apns.Config {
	roots := x509.NewCertPool()
	roots.AddCert(f.srv.Certificate())
	return apns.Config{TeamID: teamID, KeyID: keyID, AuthKey: key, BundleID: bundle, Host: f.srv.URL, RootCAs: roots}
}

// The real apns2 client, through a push.Waker, against the fake: 200
// delivers; 410 removes the device; 429 then 200 is retried and delivered.
func TestAPNsThroughWaker(t *testing.T) {
	key, pub := p8(t)
	f := newFakeAPNs(t, pub).start()
	n, err := apns.New(f.config(key))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	reg := push.NewMemoryRegistry(push.MemoryRegistryConfig{})
	var mu sync.Mutex
	var outs []push.Outcome
	w, err := push.New(push.Config{
		Registry: reg, Notifiers: map[push.Platform]push.Notifier{push.APNs: n},
		InitialBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		OnOutcome: func(o push.Outcome) { mu.Lock(); outs = append(outs, o); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	token := strings.Repeat("ab", 32)
	dev, err := reg.Register(ctx, push.Device{Account: "acct", Identity: "alice", Platform: push.APNs, Token: token, App: bundle})
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(30 * time.Second).Truncate(time.Millisecond)
	wk := push.Wakeup{Account: "acct", Identity: "alice", CallID: "c-42", From: "bob", DisplayName: "Bob Builder", HasVideo: true, ExpiresAt: expires}

	// 200: delivered, and the request is what APNs expects.
	if err := w.Wake(ctx, wk); err != nil {
		t.Fatalf("Wake: %v", err)
	}
	reqs := f.got()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.token != token || r.header.Get("apns-collapse-id") != "c-42" || r.claims["iss"] != teamID {
		t.Fatalf("request %+v", r)
	}
	want := map[string]any{
		"type": "incoming_call", "callId": "c-42", "from": "bob", "to": "alice", "displayName": "Bob Builder", "hasVideo": true,
		"expiresAt": expires.UTC().Format("2006-01-02T15:04:05.000Z07:00"), "expiresAtMs": float64(expires.UnixMilli()),
	}
	if fmt.Sprint(r.payload) != fmt.Sprint(want) {
		t.Fatalf("payload\n got %v\nwant %v", r.payload, want)
	}

	// 410 Unregistered: the device is removed and Wake fails.
	f.script(answer{410, "Unregistered"})
	if err := w.Wake(ctx, wk); !errors.Is(err, push.ErrNotDelivered) || !errors.Is(err, push.ErrDeadToken) {
		t.Fatalf("Wake after 410: %v", err)
	}
	if ds, _ := reg.Devices(ctx, "acct", "alice"); len(ds) != 0 {
		t.Fatalf("device not removed: %+v", ds)
	}

	// 429 then 200: retried, delivered.
	dev, _ = reg.Register(ctx, push.Device{Account: "acct", Identity: "alice", Platform: push.APNs, Token: token})
	f.script(answer{429, "TooManyRequests"})
	if err := w.Wake(ctx, wk); err != nil {
		t.Fatalf("Wake after 429: %v", err)
	}
	mu.Lock()
	var got []string
	for _, o := range outs {
		if o.DeviceID == dev.ID {
			got = append(got, fmt.Sprintf("%s/%d/%s", o.Kind, o.Status, o.Reason))
		}
	}
	mu.Unlock()
	if strings.Join(got, " ") != "retried/429/TooManyRequests delivered/0/" {
		t.Fatalf("outcomes %v", got)
	}
	if n := len(f.got()); n != 4 {
		t.Fatalf("%d requests, want 4", n)
	}
}

// Each APNs answer maps to its kind of failure.
func TestAPNsAnswers(t *testing.T) {
	key, pub := p8(t)
	f := newFakeAPNs(t, pub).start()
	n, err := apns.New(f.config(key))
	if err != nil {
		t.Fatal(err)
	}
	dev := push.Device{Platform: push.APNs, Token: strings.Repeat("0", 64)}
	wk := push.Wakeup{CallID: "c-1", ExpiresAt: time.Now().Add(time.Minute)}
	for _, tc := range []struct {
		a    answer
		kind error
	}{
		{answer{410, "Unregistered"}, push.ErrDeadToken},
		{answer{410, "ExpiredToken"}, push.ErrDeadToken},
		{answer{400, "BadDeviceToken"}, push.ErrDeadToken},
		{answer{429, "TooManyRequests"}, push.ErrTransient},
		{answer{500, "InternalServerError"}, push.ErrTransient},
		{answer{503, "ServiceUnavailable"}, push.ErrTransient},
		{answer{403, "ExpiredProviderToken"}, push.ErrPermanent},
		{answer{400, "DeviceTokenNotForTopic"}, push.ErrPermanent},
		{answer{413, "PayloadTooLarge"}, push.ErrPermanent},
	} {
		f.script(tc.a)
		err := n.Send(ctx, dev, wk)
		var se *push.SendError
		if !errors.Is(err, tc.kind) || !errors.As(err, &se) || se.Status != tc.a.status || se.Reason != tc.a.reason {
			t.Errorf("%d %s: %v, want %v", tc.a.status, tc.a.reason, err, tc.kind)
		}
	}
	// A device of another app of this platform is refused without a request.
	before := len(f.got())
	if err := n.Send(ctx, push.Device{Platform: push.APNs, Token: dev.Token, App: "com.other"}, wk); !errors.Is(err, push.ErrPermanent) || len(f.got()) != before {
		t.Errorf("other app: %v", err)
	}
}

// A hanging APNs is cut by the context; the error is transient and does not
// carry the device token (the request URL holds it).
func TestAPNsHangIsTransientAndQuiet(t *testing.T) {
	key, pub := p8(t)
	f := newFakeAPNs(t, pub)
	f.hang = true
	f.start()
	n, err := apns.New(f.config(key))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.Repeat("c", 64)
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = n.Send(cctx, push.Device{Platform: push.APNs, Token: token}, push.Wakeup{CallID: "c", ExpiresAt: time.Now().Add(time.Minute)})
	if !errors.Is(err, push.ErrTransient) || strings.Contains(err.Error(), token) {
		t.Fatalf("hang: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the cut took %v", d)
	}
}

// Certificate authentication with a .p12 (and with PEM): the client
// certificate reaches the server in the TLS handshake, and no bearer is sent.
func TestAPNsCertificateAuth(t *testing.T) {
	p12, err := readFile("testdata/voip.p12")
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeAPNs(t, nil)
	f.srv.TLS = tlsRequiringClientCert()
	f.start()
	cfg := f.config(nil)
	cfg.TeamID, cfg.KeyID, cfg.AuthKey = "", "", nil
	cfg.Certificate, cfg.CertificatePassword = p12, "test-password"
	n, err := apns.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Send(ctx, push.Device{Platform: push.APNs, Token: strings.Repeat("d", 64)}, push.Wakeup{CallID: "c", ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatalf("send: %v", err)
	}
	if cn := f.got()[0].header.Get("X-Client-CN"); cn != "Apple VoIP Services: com.example.app" {
		t.Fatalf("client certificate CN %q", cn)
	}
	cfg.CertificatePassword = "wrong"
	if _, err := apns.New(cfg); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestAPNsNewRefuses(t *testing.T) {
	key, _ := p8(t)
	good := apns.Config{TeamID: teamID, KeyID: keyID, AuthKey: key, BundleID: bundle}
	if _, err := apns.New(good); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*apns.Config){
		"no bundle":      func(c *apns.Config) { c.BundleID = "" },
		"no auth":        func(c *apns.Config) { c.AuthKey = nil },
		"both auths":     func(c *apns.Config) { c.Certificate = []byte("x") },
		"no team":        func(c *apns.Config) { c.TeamID = "" },
		"not PEM":        func(c *apns.Config) { c.AuthKey = []byte("not a key") },
		"not EC":         func(c *apns.Config) { c.AuthKey = rsaP8(t) },
		"bad cert bytes": func(c *apns.Config) { c.AuthKey, c.Certificate = nil, []byte("junk") },
	} {
		c := good
		mutate(&c)
		if _, err := apns.New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
