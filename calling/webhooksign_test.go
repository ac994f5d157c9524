package calling_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/calling"
)

// The example of the Standard Webhooks specification, checked against our
// signer and against the computation written out here from the spec.
func TestWebhookStandardVector(t *testing.T) {
	const (
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts     = 1614265330
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	body := []byte(`{"test": 2432232314}`)
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + "1614265330" + "." + string(body)))
	if indep := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)); indep != want {
		t.Fatalf("independent computation %s, want %s", indep, want)
	}
	if got := calling.SignWebhook([]byte(secret), id, ts, body); got != want {
		t.Fatalf("SignWebhook %s, want %s", got, want)
	}
	if got := calling.SignWebhook(key, id, ts, body); got != want {
		t.Fatalf("SignWebhook with the raw key %s, want %s", got, want)
	}
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1a,bm90IHRoaXMgb25l v1,AAAA "+want)
	if err := calling.VerifyWebhook([]byte(secret), h, body, time.Unix(ts, 0), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := calling.VerifyWebhook(key, h, body, time.Unix(ts+299, 0), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyWebhookRefusals(t *testing.T) {
	body := []byte(`{"event":"x"}`)
	now := time.Unix(1_800_000_000, 0)
	header := func(id, ts, sig string) http.Header {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		return h
	}
	good := calling.SignWebhook(whSecret, "msg_1", now.Unix(), body)
	cases := []struct {
		name   string
		secret []byte
		h      http.Header
		body   []byte
		now    time.Time
		want   error
	}{
		{"good", whSecret, header("msg_1", "1800000000", good), body, now, nil},
		{"at the tolerance", whSecret, header("msg_1", "1800000000", good), body, now.Add(time.Minute), nil},
		{"past the tolerance", whSecret, header("msg_1", "1800000000", good), body, now.Add(time.Minute + time.Second), calling.ErrWebhookTimestamp},
		{"from the future", whSecret, header("msg_1", "1800000000", good), body, now.Add(-time.Minute - time.Second), calling.ErrWebhookTimestamp},
		{"tampered body", whSecret, header("msg_1", "1800000000", good), []byte(`{"event":"y"}`), now, calling.ErrWebhookSignature},
		{"altered id", whSecret, header("msg_2", "1800000000", good), body, now, calling.ErrWebhookSignature},
		{"wrong secret", []byte("another-secret-0123456789"), header("msg_1", "1800000000", good), body, now, calling.ErrWebhookSignature},
		{"no id", whSecret, header("", "1800000000", good), body, now, calling.ErrWebhookHeaders},
		{"bad timestamp", whSecret, header("msg_1", "18e8", good), body, now, calling.ErrWebhookHeaders},
		{"signed timestamp", whSecret, header("msg_1", "+1800000000", good), body, now, calling.ErrWebhookHeaders},
		{"no signature", whSecret, header("msg_1", "1800000000", ""), body, now, calling.ErrWebhookHeaders},
		{"old scheme", whSecret, header("msg_1", "1800000000", "v1="+good[3:]), body, now, calling.ErrWebhookSignature},
		{"bad whsec", []byte("whsec_!!!"), header("msg_1", "1800000000", good), body, now, calling.ErrWebhookSecret},
	}
	for _, c := range cases {
		if err := calling.VerifyWebhook(c.secret, c.h, c.body, c.now, time.Minute); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	for _, s := range [][]byte{[]byte("short"), []byte("whsec_c2hvcnQ="), []byte("whsec_not base64")} {
		if _, err := calling.NewWebhooks(calling.WebhookConfig{URL: "http://127.0.0.1:1", Secret: s}); !errors.Is(err, calling.ErrWebhookSecret) {
			t.Errorf("secret %q: %v", s, err)
		}
	}
}

func FuzzVerifyWebhook(f *testing.F) {
	body := []byte(`{"test": 2432232314}`)
	f.Add("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", body)
	f.Add("msg_1", "1614265330", "v1,AAAA v1,====", body)
	f.Add("", "", "", []byte{})
	f.Add("id", "-1", "v1,"+strings.Repeat("A", 1000), body)
	f.Add("id", "99999999999999999999", "v1a,x v2,y", body)
	secret := []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	now := time.Unix(1614265330, 0)
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
		err := calling.VerifyWebhook(secret, h, body, now, 5*time.Minute)
		if err == nil && !strings.Contains(sig, calling.SignWebhook(secret, id, 1614265330, body)[3:]) {
			t.Fatalf("accepted a signature that is not ours: %q", sig)
		}
		if err != nil && strings.Contains(err.Error(), "MfKQ9r8") {
			t.Fatal("secret in an error")
		}
	})
}
