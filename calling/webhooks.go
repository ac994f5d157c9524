package calling

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/clock"
)

// Webhook defaults (WebhookConfig).
const (
	DefaultWebhookTimeout     = 10 * time.Second
	DefaultWebhookConcurrency = 8
	DefaultWebhookMaxAttempts = 20
	DefaultWebhookBackoff     = time.Second
	DefaultWebhookMaxBackoff  = 5 * time.Minute
	// webhookWindow is how many events a Webhooks reads ahead of delivery.
	webhookWindow = 1024
)

// WebhookConfig configures NewWebhooks.
type WebhookConfig struct {
	// URL receives a POST per event (required).
	URL string
	// Secret signs each request in the Standard Webhooks format (required):
	// raw bytes, or "whsec_" followed by the base64 of the key; at least 16
	// bytes of key either way.
	Secret []byte
	// Secrets are more keys, in the same form, for rotation: each request
	// carries one signature per key (Secret first), space separated, so a
	// receiver that knows any of them accepts it.
	Secrets [][]byte
	// Client sends the requests. Default: a new http.Client. Redirects are
	// never followed, whatever the client says: a 3xx is a failed attempt.
	Client *http.Client
	// Timeout of one attempt, the body read included. Default 10 s.
	Timeout time.Duration
	// Concurrency is the most requests in flight to the receiver at once.
	// Events of one call (one session for participant events) are sent one
	// at a time, in order; different calls concurrently. Default 8.
	Concurrency int
	// MaxAttempts per event, the first included; after the last the event
	// is dropped, counted (WebhookStats.Failed) and logged. Default 20
	// (about an hour with the default backoff); negative: no limit.
	MaxAttempts int
	// Backoff before the second attempt, doubled each time up to MaxBackoff.
	// Defaults 1 s and 5 min.
	Backoff, MaxBackoff time.Duration
	// Outbox stores events until they are delivered. Default: a
	// MemoryOutbox of DefaultOutboxLimit events. A FileOutbox keeps them
	// across restarts.
	Outbox Outbox
	// Clock times the timestamps and the backoff. Default: the real one.
	Clock Clock
	// Logger. Default: discard.
	Logger *slog.Logger
}

// Webhooks is a Hooks that POSTs each event as JSON to a URL, signed in the
// Standard Webhooks format (docs/webhooks.md). Each event is stored in an
// outbox when raised, before the method returns, and delivered at least once
// by goroutines of the Webhooks: in order per call, concurrently across
// calls, retried with exponential backoff. Its methods never wait for the
// receiver. It is safe for concurrent use. Close it to stop delivering.
type Webhooks struct {
	url     string
	keys    [][]byte
	client  http.Client
	timeout time.Duration
	clock   Clock
	box     Outbox
	relay   *relay
	log     *slog.Logger
	lost    atomic.Uint64

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

var (
	_ Hooks          = (*Webhooks)(nil)
	_ RecordingHooks = (*Webhooks)(nil)
)

// WebhookStats are counters of a Webhooks (metrics); all but Pending only grow.
type WebhookStats struct {
	// Pending: events stored and not yet delivered (-1: the outbox does not say).
	Pending int
	// Delivered: events a receiver answered 2xx to.
	Delivered uint64
	// Retried: failed attempts that were retried.
	Retried uint64
	// Failed: events given up on after MaxAttempts.
	Failed uint64
	// Dropped: events the outbox dropped because it was full, plus events
	// it refused to store.
	Dropped uint64
}

// NewWebhooks validates cfg and starts delivering; events already in
// cfg.Outbox (from before a restart) are delivered first.
func NewWebhooks(cfg WebhookConfig) (*Webhooks, error) {
	if cfg.URL == "" {
		return nil, errors.New("calling: WebhookConfig needs URL")
	}
	var keys [][]byte
	for _, s := range append([][]byte{cfg.Secret}, cfg.Secrets...) {
		k, err := webhookKey(s)
		if err != nil || len(k) < 16 {
			return nil, fmt.Errorf("%w: each webhook secret needs at least 16 bytes of key", ErrWebhookSecret)
		}
		keys = append(keys, k)
	}
	if cfg.Timeout < 0 || cfg.Concurrency < 0 || cfg.Backoff < 0 || cfg.MaxBackoff < 0 {
		return nil, errors.New("calling: WebhookConfig has a negative limit")
	}
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultWebhookTimeout)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultWebhookConcurrency)
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultWebhookMaxAttempts
	} else if cfg.MaxAttempts < 0 {
		cfg.MaxAttempts = 0
	}
	cfg.Backoff = cmp.Or(cfg.Backoff, DefaultWebhookBackoff)
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, max(DefaultWebhookMaxBackoff, cfg.Backoff))
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Outbox == nil {
		cfg.Outbox, _ = NewMemoryOutbox(MemoryOutboxConfig{Logger: cfg.Logger})
	}
	w := &Webhooks{url: cfg.URL, keys: keys, timeout: cfg.Timeout, clock: cfg.Clock, box: cfg.Outbox, log: cfg.Logger,
		done: make(chan struct{})}
	if cfg.Client != nil {
		w.client = *cfg.Client
	}
	w.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	w.relay = newRelay(cfg.Outbox, w.send, relayConfig{concurrency: cfg.Concurrency, window: webhookWindow,
		maxAttempts: cfg.MaxAttempts, backoff: cfg.Backoff, maxBackoff: cfg.MaxBackoff, clock: cfg.Clock, log: cfg.Logger})
	var ctx context.Context
	ctx, w.cancel = context.WithCancel(context.Background())
	go func() {
		defer close(w.done)
		w.relay.run(ctx)
	}()
	return w, nil
}

// Close stops delivery: requests in flight are cancelled and what is not
// delivered stays in the outbox (a FileOutbox delivers it after a restart).
// It does not close the outbox.
func (w *Webhooks) Close() error {
	w.closeOnce.Do(w.cancel)
	<-w.done
	return nil
}

// Stats returns the counters.
func (w *Webhooks) Stats() WebhookStats {
	s := WebhookStats{Pending: -1, Delivered: w.relay.delivered.Load(), Retried: w.relay.retried.Load(),
		Failed: w.relay.failed.Load(), Dropped: w.lost.Load()}
	if b, ok := w.box.(interface{ Len() int }); ok {
		s.Pending = b.Len()
	}
	if b, ok := w.box.(interface{ Dropped() uint64 }); ok {
		s.Dropped += b.Dropped()
	}
	return s
}

// CallStateChanged implements Hooks (ordered per call).
func (w *Webhooks) CallStateChanged(ctx context.Context, e CallEvent) {
	w.post(ctx, "call.state", e.CallID, e)
}

// DTMFReceived implements Hooks (ordered per call).
func (w *Webhooks) DTMFReceived(ctx context.Context, e DTMFEvent) {
	w.post(ctx, "call.dtmf", e.CallID, e)
}

// ParticipantChanged implements Hooks (ordered per session).
func (w *Webhooks) ParticipantChanged(ctx context.Context, e ParticipantEvent) {
	w.post(ctx, "participant", e.SessionID, e)
}

// Post stores an event the host defines (push outcomes, say) for delivery
// like the hooks' own: signed, at least once, in order per key (use the
// call or session id), without waiting for the receiver. event names it in
// the body's "event" field; data is its "data". Safe for concurrent use.
func (w *Webhooks) Post(ctx context.Context, event, key string, data any) {
	w.post(ctx, event, key, data)
}

// QualityChanged implements QualityHooks (ordered per session, with the
// participant events): event participant.quality.
func (w *Webhooks) QualityChanged(ctx context.Context, e QualityEvent) {
	w.post(ctx, "participant.quality", e.SessionID, e)
}

// RecordingChanged implements RecordingHooks (ordered per call, or per
// session for a room).
func (w *Webhooks) RecordingChanged(ctx context.Context, e RecordingEvent) {
	key := e.CallID
	if key == "" {
		key = e.SessionID
	}
	w.post(ctx, "recording", key, e)
}

// webhookBody is the JSON body of every request.
type webhookBody struct {
	Event string `json:"event"`
	Data  any    `json:"data"`
}

// post stores the event; delivery happens on the relay's goroutines.
func (w *Webhooks) post(ctx context.Context, event, key string, v any) {
	body, err := json.Marshal(webhookBody{Event: event, Data: v})
	if err != nil {
		w.lost.Add(1)
		w.log.Error("webhook event not encoded", "event", event, "err", err)
		return
	}
	id := "msg_" + rand.Text()
	if _, err := w.box.Append(context.WithoutCancel(ctx), OutboxEvent{ID: id, Key: key, Type: event, Body: body}); err != nil {
		w.lost.Add(1)
		w.log.Error("webhook event not stored; lost", "event", event, "id", id, "err", err)
		return
	}
	w.relay.notify()
}

// errWebhookStatus is a receiver's non-2xx answer.
type errWebhookStatus int

func (e errWebhookStatus) Error() string {
	return "calling: webhook receiver answered " + strconv.Itoa(int(e))
}

// send makes one attempt.
func (w *Webhooks) send(ctx context.Context, e OutboxEvent) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	ts := w.clock.Now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(e.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderWebhookID, e.ID)
	req.Header.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderWebhookSignature, signWebhookKeys(w.keys, e.ID, ts, e.Body))
	res, err := w.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	_ = res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return errWebhookStatus(res.StatusCode)
	}
	return nil
}
