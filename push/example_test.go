package push_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/push"
)

// A Waker sends to every device of the callee; here a stand-in notifier
// accepts the APNs device and calls the FCM token dead, which removes it.
func ExampleWaker() {
	ctx := context.Background()
	reg := push.NewMemoryRegistry(push.MemoryRegistryConfig{})
	_, _ = reg.Register(ctx, push.Device{Account: "acct", Identity: "alice", Platform: push.APNs, Token: strings.Repeat("ab", 32)})
	_, _ = reg.Register(ctx, push.Device{Account: "acct", Identity: "alice", Platform: push.FCM, Token: "stale-fcm-token"})

	apnsStandIn := push.NotifierFunc(func(ctx context.Context, d push.Device, w push.Wakeup) error {
		return nil // accepted
	})
	fcmStandIn := push.NotifierFunc(func(ctx context.Context, d push.Device, w push.Wakeup) error {
		return &push.SendError{Failure: push.FailureDeadToken, Status: 404, Reason: "UNREGISTERED"}
	})
	done := make(chan push.Outcome, 2)
	waker, _ := push.New(push.Config{
		Registry:  reg,
		Notifiers: map[push.Platform]push.Notifier{push.APNs: apnsStandIn, push.FCM: fcmStandIn},
		OnOutcome: func(o push.Outcome) { done <- o },
	})
	defer waker.Close()

	err := waker.Wake(ctx, push.Wakeup{
		Account: "acct", Identity: "alice", CallID: "c-1", From: "bob", DisplayName: "Bob",
		ExpiresAt: time.Now().Add(45 * time.Second),
	})
	fmt.Println("woken:", err == nil)
	kinds := map[push.Platform]push.OutcomeKind{}
	for range 2 {
		o := <-done
		kinds[o.Platform] = o.Kind
	}
	fmt.Println("apns:", kinds[push.APNs])
	fmt.Println("fcm:", kinds[push.FCM])
	left, _ := reg.Devices(ctx, "acct", "alice")
	fmt.Println("devices left:", len(left))
	// Output:
	// woken: true
	// apns: delivered
	// fcm: dead_token_removed
	// devices left: 1
}

// The devices API serves paths relative to the API root, for the user in
// the request context (the host's auth middleware puts it there).
func ExampleHandler() {
	reg := push.NewMemoryRegistry(push.MemoryRegistryConfig{})
	h, _ := push.NewHandler(push.HandlerConfig{Registry: reg})

	alice := &auth.Claims{Subject: "alice", Account: "acct", Grants: auth.Grants{Incoming: true}}
	r := httptest.NewRequest("POST", "/devices", strings.NewReader(`{"platform":"fcm","token":"fcm-token-1"}`))
	r = r.WithContext(auth.NewContext(r.Context(), alice))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code)

	r = httptest.NewRequest("POST", "/devices", strings.NewReader(`{"platform":"apns","token":"not-hex"}`))
	r = r.WithContext(auth.NewContext(r.Context(), alice))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// 201
	// 400 {"code":"invalid_push_token","message":"invalid push token: an APNs token is 64 to 200 hex digits, got 7 characters"}
}

// What the app receives: the APNs body as JSON, the FCM data as strings.
func ExampleWakeup_Payload() {
	w := push.Wakeup{Identity: "alice", CallID: "c-1", From: "bob", HasVideo: true,
		ExpiresAt: time.Date(2030, 1, 2, 3, 4, 50, 0, time.UTC)}
	p := w.Payload()
	fmt.Println(p.ExpiresAt, p.ExpiresAtMs)
	fmt.Println(p.Data()["hasVideo"], p.Data()["expiresAtMs"])
	// Output:
	// 2030-01-02T03:04:50.000Z 1893553490000
	// true 1893553490000
}
