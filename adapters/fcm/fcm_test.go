package fcm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchboard-rtc/switchboard/adapters/fcm"
	"github.com/switchboard-rtc/switchboard/push"
)

const (
	project     = "test-project"
	accessToken = "test-access-token"
	pkg         = "com.example.app"
)

var ctx = context.Background()

// fakeFCM stands in for the FCM v1 API: it checks the bearer and the
// message JSON and answers from a script.
type fakeFCM struct {
	t      *testing.T
	srv    *httptest.Server
	bearer string

	mu       sync.Mutex
	answers  []reply
	messages []message
	always   *reply // answers every request when set
}

type reply struct {
	status int
	body   string
	header map[string]string
}

type message struct {
	Token   string            `json:"token"`
	Data    map[string]string `json:"data"`
	Android struct {
		Priority              string `json:"priority"`
		TTL                   string `json:"ttl"`
		RestrictedPackageName string `json:"restricted_package_name"`
	} `json:"android"`
	Notification any `json:"notification"`
}

func fcmError(status int, code, grpcStatus, msg string, extra ...string) reply {
	details := []string{fmt.Sprintf(`{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":%q}`, code)}
	details = append(details, extra...)
	return reply{status: status, body: fmt.Sprintf(`{"error":{"code":%d,"message":%q,"status":%q,"details":[%s]}}`, status, msg, grpcStatus, strings.Join(details, ","))}
}

var (
	unregistered = fcmError(404, "UNREGISTERED", "NOT_FOUND", "Requested entity was not found.")
	unavailable  = fcmError(503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.")
)

func newFakeFCM(t *testing.T, bearer string, extra http.Handler) *fakeFCM {
	f := &fakeFCM{t: t, bearer: bearer}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /projects/"+project+"/messages:send", f.send)
	if extra != nil {
		mux.Handle("/", extra)
	}
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeFCM) script(r ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers = append(f.answers, r...)
}

func (f *fakeFCM) got() []message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]message(nil), f.messages...)
}

func (f *fakeFCM) send(w http.ResponseWriter, r *http.Request) {
	if got := r.Header.Get("Authorization"); got != "Bearer "+f.bearer {
		f.t.Errorf("authorization %q, want the token source's bearer", got)
		w.WriteHeader(401)
		return
	}
	var body struct {
		Message message `json:"message"`
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&body); err != nil {
		f.t.Errorf("body: %v", err)
		w.WriteHeader(400)
		return
	}
	f.mu.Lock()
	f.messages = append(f.messages, body.Message)
	a := reply{status: 200, body: fmt.Sprintf(`{"name":"projects/%s/messages/%d"}`, project, len(f.messages))}
	if f.always != nil {
		a = *f.always
	} else if len(f.answers) > 0 {
		a, f.answers = f.answers[0], f.answers[1:]
	}
	f.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

func (f *fakeFCM) notifier(t *testing.T) *fcm.Notifier {
	n, err := fcm.New(fcm.Config{ProjectID: project, Endpoint: f.srv.URL, PackageName: pkg,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"})})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The real Firebase SDK, through a push.Waker, against the fake: success;
// UNREGISTERED removes the device; 503 then success is delivered.
func TestFCMThroughWaker(t *testing.T) {
	f := newFakeFCM(t, accessToken, nil)
	reg := push.NewMemoryRegistry(push.MemoryRegistryConfig{})
	w, err := push.New(push.Config{Registry: reg, Notifiers: map[push.Platform]push.Notifier{push.FCM: f.notifier(t)}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	token := "dGVzdC10b2tlbg:APA91bH-test_token"
	if _, err := reg.Register(ctx, push.Device{Account: "acct", Identity: "alice", Platform: push.FCM, Token: token}); err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(30 * time.Second).Truncate(time.Millisecond)
	wk := push.Wakeup{Account: "acct", Identity: "alice", CallID: "c-42", From: "bob", DisplayName: "Bob", HasVideo: true, ExpiresAt: expires}

	if err := w.Wake(ctx, wk); err != nil {
		t.Fatalf("Wake: %v", err)
	}
	m := f.got()[0]
	want := map[string]string{
		"type": "incoming_call", "callId": "c-42", "from": "bob", "to": "alice", "displayName": "Bob", "hasVideo": "true",
		"expiresAt": expires.UTC().Format("2006-01-02T15:04:05.000Z07:00"), "expiresAtMs": fmt.Sprint(expires.UnixMilli()),
	}
	if m.Token != token || fmt.Sprint(m.Data) != fmt.Sprint(want) || m.Notification != nil {
		t.Fatalf("message %+v\nwant data %v", m, want)
	}
	if m.Android.Priority != "high" || m.Android.RestrictedPackageName != pkg {
		t.Fatalf("android %+v", m.Android)
	}
	ttl, err := time.ParseDuration(m.Android.TTL)
	if err != nil || ttl <= 25*time.Second || ttl > 30*time.Second {
		t.Fatalf("ttl %q: want the time left until the expiry", m.Android.TTL)
	}

	f.script(unregistered)
	if err := w.Wake(ctx, wk); !errors.Is(err, push.ErrDeadToken) {
		t.Fatalf("Wake after UNREGISTERED: %v", err)
	}
	if ds, _ := reg.Devices(ctx, "acct", "alice"); len(ds) != 0 {
		t.Fatalf("device not removed: %+v", ds)
	}

	_, _ = reg.Register(ctx, push.Device{Account: "acct", Identity: "alice", Platform: push.FCM, Token: token})
	f.script(unavailable)
	before := len(f.got())
	if err := w.Wake(ctx, wk); err != nil {
		t.Fatalf("Wake after 503: %v", err)
	}
	if n := len(f.got()) - before; n != 2 {
		t.Fatalf("%d requests for 503 then success, want 2", n)
	}
}

// Each FCM answer maps to its kind of failure.
func TestFCMAnswers(t *testing.T) {
	f := newFakeFCM(t, accessToken, nil)
	n := f.notifier(t)
	dev := push.Device{Platform: push.FCM, Token: "tok"}
	wk := push.Wakeup{CallID: "c-1", ExpiresAt: time.Now().Add(time.Minute)}
	tokenViolation := `{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token","description":"Invalid registration token"}]}`
	otherViolation := `{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.android.ttl","description":"Invalid value"}]}`
	for _, tc := range []struct {
		name       string
		r          reply
		kind       error
		reason     string
		retryAfter time.Duration
	}{
		{"unregistered", unregistered, push.ErrDeadToken, "UNREGISTERED", 0},
		{"invalid token (field)", fcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Request contains an invalid argument.", tokenViolation), push.ErrDeadToken, "INVALID_ARGUMENT", 0},
		{"invalid token (message)", fcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"), push.ErrDeadToken, "INVALID_ARGUMENT", 0},
		{"invalid other field", fcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Request contains an invalid argument.", otherViolation), push.ErrPermanent, "INVALID_ARGUMENT", 0},
		{"quota", func() reply {
			r := fcmError(429, "QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED", "Quota exceeded.")
			r.header = map[string]string{"Retry-After": "7"}
			return r
		}(), push.ErrTransient, "QUOTA_EXCEEDED", 7 * time.Second},
		{"internal", fcmError(500, "INTERNAL", "INTERNAL", "Internal error."), push.ErrTransient, "INTERNAL", 0},
		{"sender mismatch", fcmError(403, "SENDER_ID_MISMATCH", "PERMISSION_DENIED", "SenderId mismatch"), push.ErrPermanent, "SENDER_ID_MISMATCH", 0},
		{"third party auth", fcmError(401, "THIRD_PARTY_AUTH_ERROR", "UNAUTHENTICATED", "Auth error"), push.ErrPermanent, "THIRD_PARTY_AUTH_ERROR", 0},
	} {
		f.script(tc.r)
		err := n.Send(ctx, dev, wk)
		var se *push.SendError
		if !errors.Is(err, tc.kind) || !errors.As(err, &se) || se.Status != tc.r.status || se.Reason != tc.reason || se.RetryAfter != tc.retryAfter {
			t.Errorf("%s: %#v, want %v %s retry-after %v", tc.name, se, tc.kind, tc.reason, tc.retryAfter)
		}
	}
	before := len(f.got())
	if err := n.Send(ctx, push.Device{Platform: push.FCM, Token: "tok", App: "com.other"}, wk); !errors.Is(err, push.ErrPermanent) || len(f.got()) != before {
		t.Errorf("other app: %v", err)
	}
}

// The SDK retries 503 by itself (waiting 0, 1, 2, 4 s); the context cuts
// that short and the failure is transient.
func TestFCMSDKRetriesBoundedByContext(t *testing.T) {
	f := newFakeFCM(t, accessToken, nil)
	f.always = &unavailable
	n := f.notifier(t)
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := n.Send(cctx, push.Device{Platform: push.FCM, Token: "tok"}, push.Wakeup{CallID: "c", ExpiresAt: time.Now().Add(time.Minute)})
	if !errors.Is(err, push.ErrTransient) {
		t.Fatalf("%v", err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Fatalf("Send took %v past a 300 ms context", d)
	}
	if len(f.got()) < 2 {
		t.Fatalf("%d requests: the SDK did not retry", len(f.got()))
	}
}
