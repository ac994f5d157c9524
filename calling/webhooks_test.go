package calling_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/calling"
)

// A receiver that answers 500 twice, then 200, gets the event exactly once
// more; every request carries a signature the receiver verifies.
func TestWebhookSignatureAndRetry(t *testing.T) {
	secret := []byte("webhook-secret-0123456789")
	var mu sync.Mutex
	var bodies []string
	var deliveries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := calling.VerifyWebhook(secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("receiver: %v", err)
			w.WriteHeader(401)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, string(body))
		deliveries = append(deliveries, r.Header.Get(calling.HeaderDelivery))
		if len(bodies) <= 2 {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(200)
	}))
	defer srv.Close()
	wh, err := calling.NewWebhooks(calling.WebhookConfig{URL: srv.URL, Secret: secret, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	wh.DTMFReceived(context.Background(), calling.DTMFEvent{CallID: "c-1", From: "alice", Digits: "42#"})
	mu.Lock()
	if len(bodies) != 3 {
		t.Fatalf("%d attempts, want 3 (500, 500, 200)", len(bodies))
	}
	if deliveries[0] != deliveries[2] {
		t.Fatal("retries must keep the delivery id")
	}
	var got struct {
		Event string
		Data  calling.DTMFEvent
	}
	_ = json.Unmarshal([]byte(bodies[2]), &got)
	if got.Event != "call.dtmf" || got.Data.Digits != "42#" {
		t.Fatalf("body %s", bodies[2])
	}
	mu.Unlock()
	// A second event is delivered once (the receiver now answers 200).
	wh.DTMFReceived(context.Background(), calling.DTMFEvent{CallID: "c-1", Digits: "1"})
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 4 {
		t.Fatalf("second event: %d requests in all", len(bodies))
	}
}

func TestVerifyWebhookRefusals(t *testing.T) {
	secret := []byte("webhook-secret-0123456789")
	body := []byte(`{"event":"x"}`)
	now := time.Unix(1_800_000_000, 0)
	h := http.Header{}
	h.Set(calling.HeaderTimestamp, "1800000000")
	h.Set(calling.HeaderSignature, calling.Sign(secret, now.Unix(), body))
	if err := calling.VerifyWebhook(secret, h, body, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	if calling.VerifyWebhook(secret, h, []byte(`{"event":"y"}`), now, time.Minute) == nil {
		t.Fatal("tampered body accepted")
	}
	if calling.VerifyWebhook([]byte("another-secret-0123456789"), h, body, now, time.Minute) == nil {
		t.Fatal("wrong secret accepted")
	}
	if calling.VerifyWebhook(secret, h, body, now.Add(61*time.Second), time.Minute) == nil {
		t.Fatal("replayed (old) webhook accepted")
	}
	if calling.VerifyWebhook(secret, h, body, now.Add(60*time.Second), time.Minute) != nil {
		t.Fatal("webhook at the tolerance refused")
	}
	if _, err := calling.NewWebhooks(calling.WebhookConfig{URL: "http://x", Secret: []byte("short")}); err == nil {
		t.Fatal("short secret accepted")
	}
}

// Gives up after MaxAttempts against a receiver that always fails.
func TestWebhookGivesUp(t *testing.T) {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n++; w.WriteHeader(503) }))
	defer srv.Close()
	wh, _ := calling.NewWebhooks(calling.WebhookConfig{URL: srv.URL, Secret: []byte("webhook-secret-0123456789"), Backoff: time.Millisecond, MaxAttempts: 3})
	wh.CallStateChanged(context.Background(), calling.CallEvent{CallID: "c"})
	if n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
}
