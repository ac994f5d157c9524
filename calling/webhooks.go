package calling

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Webhook headers (docs/webhooks.md).
const (
	HeaderTimestamp = "X-Switchboard-Timestamp"
	HeaderSignature = "X-Switchboard-Signature"
	HeaderEvent     = "X-Switchboard-Event"
	HeaderDelivery  = "X-Switchboard-Delivery"
)

// WebhookConfig configures NewWebhooks.
type WebhookConfig struct {
	// URL receives a POST per event (required).
	URL string
	// Secret signs each body (required, at least 16 bytes).
	Secret []byte
	// Client sends the requests. Default: 10 s timeout.
	Client *http.Client
	// MaxAttempts per event, the first included. Default 5.
	MaxAttempts int
	// Backoff before the second attempt, doubled each time. Default 200 ms.
	Backoff time.Duration
	// Now is the clock of the timestamp. Default time.Now.
	Now func() time.Time
	// Logger. Default: discard.
	Logger *slog.Logger
}

// Webhooks is a Hooks that POSTs each event as JSON, signed with
// HMAC-SHA256 over "<timestamp>.<body>" (header X-Switchboard-Signature:
// v1=<hex>, timestamp in X-Switchboard-Timestamp, Unix seconds), retrying
// non-2xx answers and network errors with exponential backoff. It is safe
// for concurrent use; the Server calls it from one goroutine, in order.
type Webhooks struct {
	cfg WebhookConfig
	seq uint64
}

var _ Hooks = (*Webhooks)(nil)

// NewWebhooks validates cfg.
func NewWebhooks(cfg WebhookConfig) (*Webhooks, error) {
	if cfg.URL == "" || len(cfg.Secret) < 16 {
		return nil, errors.New("calling: WebhookConfig needs URL and a Secret of at least 16 bytes")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 200 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Webhooks{cfg: cfg}, nil
}

// Sign returns the signature header value for body at timestamp ts.
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%d.", ts)
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// VerifyWebhook checks a received webhook's signature in constant time and
// that its timestamp is within tolerance of now (against replay).
func VerifyWebhook(secret []byte, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(header.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return errors.New("calling: webhook timestamp missing or malformed")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("calling: webhook timestamp outside the tolerance")
	}
	if !hmac.Equal([]byte(header.Get(HeaderSignature)), []byte(Sign(secret, ts, body))) {
		return errors.New("calling: webhook signature mismatch")
	}
	return nil
}

// CallStateChanged implements Hooks.
func (w *Webhooks) CallStateChanged(ctx context.Context, e CallEvent) { w.post(ctx, "call.state", e) }

// DTMFReceived implements Hooks.
func (w *Webhooks) DTMFReceived(ctx context.Context, e DTMFEvent) { w.post(ctx, "call.dtmf", e) }

// ParticipantChanged implements Hooks.
func (w *Webhooks) ParticipantChanged(ctx context.Context, e ParticipantEvent) {
	w.post(ctx, "participant", e)
}

func (w *Webhooks) post(ctx context.Context, event string, v any) {
	body, err := json.Marshal(map[string]any{"event": event, "data": v})
	if err != nil {
		return
	}
	w.seq++
	delivery := strconv.FormatUint(w.seq, 10) + "-" + randomHex(6)
	backoff := w.cfg.Backoff
	for attempt := 1; attempt <= w.cfg.MaxAttempts; attempt++ {
		if w.send(ctx, event, delivery, body) {
			return
		}
		if attempt == w.cfg.MaxAttempts {
			break
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff *= 2
	}
	w.cfg.Logger.Warn("webhook not delivered", "event", event, "delivery", delivery, "attempts", w.cfg.MaxAttempts)
}

func (w *Webhooks) send(ctx context.Context, event, delivery string, body []byte) bool {
	ts := w.cfg.Now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(w.cfg.Secret, ts, body))
	req.Header.Set(HeaderEvent, event)
	req.Header.Set(HeaderDelivery, delivery)
	res, err := w.cfg.Client.Do(req)
	if err != nil {
		return false
	}
	_ = res.Body.Close()
	return res.StatusCode >= 200 && res.StatusCode < 300
}
