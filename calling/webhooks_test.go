package calling_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

var whSecret = []byte("webhook-secret-0123456789")

// delivery is one request a test receiver got.
type delivery struct {
	id, sig string
	body    []byte
	event   struct {
		Event string
		Data  calling.CallEvent
	}
}

// receiver is an httptest server that verifies every request and answers
// with answer (200 when nil). Each request is also sent on got.
type receiver struct {
	*httptest.Server
	got    chan delivery
	answer func(d delivery, r *http.Request) int
}

func newReceiver(t *testing.T, secret []byte, answer func(d delivery, r *http.Request) int) *receiver {
	t.Helper()
	rc := &receiver{got: make(chan delivery, 10_000), answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := calling.VerifyWebhook(secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("receiver: %v", err)
			w.WriteHeader(401)
			return
		}
		d := delivery{id: r.Header.Get("webhook-id"), sig: r.Header.Get("webhook-signature"), body: body}
		if err := json.Unmarshal(body, &d.event); err != nil {
			t.Errorf("receiver: body %s: %v", body, err)
		}
		code := 200
		if rc.answer != nil {
			code = rc.answer(d, r)
		}
		rc.got <- d
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// next returns the next request, failing the test after 10 s.
func (rc *receiver) next(t *testing.T) delivery {
	t.Helper()
	select {
	case d := <-rc.got:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook request within 10 s")
		return delivery{}
	}
}

// instantClock runs every backoff at once and records its duration.
type instantClock struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (c *instantClock) Now() time.Time { return time.Now() }
func (c *instantClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	go f()
	return func() bool { return false }
}

func newWebhooks(t *testing.T, cfg calling.WebhookConfig) *calling.Webhooks {
	t.Helper()
	if cfg.Secret == nil {
		cfg.Secret = whSecret
	}
	if cfg.Clock == nil {
		cfg.Clock = &instantClock{}
	}
	wh, err := calling.NewWebhooks(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wh.Close() })
	return wh
}

func callEvent(call string, n int) calling.CallEvent {
	return calling.CallEvent{CallID: call, Account: acct, From: "alice", To: fmt.Sprintf("n%04d", n), State: protocol.StateRinging}
}

// Every request carries one signature per secret, so a receiver that knows
// the old or the new one accepts it during a rotation.
func TestWebhookSecretRotation(t *testing.T) {
	next := []byte("whsec_" + base64.StdEncoding.EncodeToString([]byte("the-next-secret-0123456789")))
	old := newReceiver(t, whSecret, nil)
	wh := newWebhooks(t, calling.WebhookConfig{URL: old.URL, Secret: whSecret, Secrets: [][]byte{next}})
	wh.CallStateChanged(context.Background(), callEvent("c-1", 1))
	d := old.next(t)
	if n := len(strings.Fields(d.sig)); n != 2 {
		t.Fatalf("%d signatures, want 2: %s", n, d.sig)
	}
	nu := newReceiver(t, next, nil)
	wh2 := newWebhooks(t, calling.WebhookConfig{URL: nu.URL, Secret: whSecret, Secrets: [][]byte{next}})
	wh2.CallStateChanged(context.Background(), callEvent("c-1", 1))
	nu.next(t) // verified with the new secret
}

// A receiver that answers 500 twice, then 200, gets the event three times
// with the same webhook-id, waiting Backoff then twice Backoff; the next
// event is delivered once.
func TestWebhookSignatureAndRetry(t *testing.T) {
	n := 0
	rc := newReceiver(t, whSecret, func(delivery, *http.Request) int {
		n++ // requests of one key are sequential
		if n <= 2 {
			return 500
		}
		return 200
	})
	clock := &instantClock{}
	wh := newWebhooks(t, calling.WebhookConfig{URL: rc.URL, Backoff: 50 * time.Millisecond, Clock: clock})
	wh.DTMFReceived(context.Background(), calling.DTMFEvent{CallID: "c-1", From: "alice", Digits: "42#"})
	a, b, c := rc.next(t), rc.next(t), rc.next(t)
	if a.id != b.id || b.id != c.id || !strings.HasPrefix(a.id, "msg_") {
		t.Fatalf("ids %q %q %q: retries must keep the id", a.id, b.id, c.id)
	}
	var got struct {
		Event string
		Data  calling.DTMFEvent
	}
	_ = json.Unmarshal(c.body, &got)
	if got.Event != "call.dtmf" || got.Data.Digits != "42#" {
		t.Fatalf("body %s", c.body)
	}
	wh.DTMFReceived(context.Background(), calling.DTMFEvent{CallID: "c-1", Digits: "1"})
	if d := rc.next(t); d.id == a.id {
		t.Fatal("a new event needs a new id")
	}
	if s := waitStats(t, wh, func(s calling.WebhookStats) bool { return s.Delivered == 2 }); s.Retried != 2 || s.Failed != 0 || s.Pending != 0 {
		t.Fatalf("stats %+v", s)
	}
	clock.mu.Lock()
	defer clock.mu.Unlock()
	if len(clock.waits) != 2 || clock.waits[0] != 50*time.Millisecond || clock.waits[1] != 100*time.Millisecond {
		t.Fatalf("backoffs %v, want [50ms 100ms]", clock.waits)
	}
}

// Gives up after MaxAttempts against a receiver that always fails, counts it.
func TestWebhookGivesUp(t *testing.T) {
	rc := newReceiver(t, whSecret, func(delivery, *http.Request) int { return 503 })
	wh := newWebhooks(t, calling.WebhookConfig{URL: rc.URL, MaxAttempts: 3})
	wh.CallStateChanged(context.Background(), callEvent("c-1", 1))
	for range 3 {
		rc.next(t)
	}
	if s := waitStats(t, wh, func(s calling.WebhookStats) bool { return s.Failed == 1 }); s.Retried != 2 || s.Pending != 0 {
		t.Fatalf("stats %+v", s)
	}
	_ = wh.Close()
	select {
	case <-rc.got:
		t.Fatal("a fourth attempt")
	default:
	}
}

// A receiver that does not answer costs one Timeout per attempt.
func TestWebhookTimeout(t *testing.T) {
	rc := newReceiver(t, whSecret, func(_ delivery, r *http.Request) int { <-r.Context().Done(); return 200 })
	wh := newWebhooks(t, calling.WebhookConfig{URL: rc.URL, Timeout: 50 * time.Millisecond, MaxAttempts: 2})
	start := time.Now()
	wh.CallStateChanged(context.Background(), callEvent("c-1", 1))
	rc.next(t)
	rc.next(t)
	_ = waitStats(t, wh, func(s calling.WebhookStats) bool { return s.Failed == 1 })
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("two attempts took %v", d)
	}
}

// A redirect is not followed: the 302 is a failed attempt and the target
// never sees the event.
func TestWebhookRedirectNotFollowed(t *testing.T) {
	target := newReceiver(t, whSecret, nil)
	var mu sync.Mutex
	redirects := 0
	from := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		redirects++
		mu.Unlock()
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer from.Close()
	wh := newWebhooks(t, calling.WebhookConfig{URL: from.URL, MaxAttempts: 2, Client: &http.Client{}})
	wh.CallStateChanged(context.Background(), callEvent("c-1", 1))
	_ = waitStats(t, wh, func(s calling.WebhookStats) bool { return s.Failed == 1 })
	mu.Lock()
	defer mu.Unlock()
	if redirects != 2 || len(target.got) != 0 {
		t.Fatalf("%d redirects, %d requests at the target", redirects, len(target.got))
	}
}

// waitStats waits for the stats to satisfy ok, woken by the relay's own
// progress; it fails after 10 s.
func waitStats(t *testing.T, wh *calling.Webhooks, ok func(calling.WebhookStats) bool) calling.WebhookStats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := wh.Stats()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", s)
		}
		time.Sleep(time.Millisecond) // polling an observable counter, not ordering events
	}
}

// One receiver that hangs does not delay another receiver's events, and
// within one receiver a call whose request hangs does not delay other calls.
func TestWebhookHangingReceiverDoesNotDelayOthers(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	hang := func(_ delivery, r *http.Request) int {
		select {
		case <-stuck:
		case <-r.Context().Done():
		}
		return 200
	}
	bad := newReceiver(t, whSecret, hang)
	good := newReceiver(t, whSecret, nil)
	whBad := newWebhooks(t, calling.WebhookConfig{URL: bad.URL})
	whGood := newWebhooks(t, calling.WebhookConfig{URL: good.URL})
	for i := range 20 {
		whBad.CallStateChanged(context.Background(), callEvent("c-1", i))
		whGood.CallStateChanged(context.Background(), callEvent("c-1", i))
	}
	for i := range 20 {
		if d := good.next(t); d.event.Data.To != fmt.Sprintf("n%04d", i) {
			t.Fatalf("event %d: %+v", i, d.event.Data)
		}
	}

	// One receiver, hanging only for call c-stuck.
	mixed := newReceiver(t, whSecret, func(d delivery, r *http.Request) int {
		if d.event.Data.CallID == "c-stuck" {
			return hang(d, r)
		}
		return 200
	})
	wh := newWebhooks(t, calling.WebhookConfig{URL: mixed.URL})
	wh.CallStateChanged(context.Background(), callEvent("c-stuck", 0))
	for i := range 20 {
		wh.CallStateChanged(context.Background(), callEvent(fmt.Sprintf("c-%d", i), i))
	}
	got := map[string]bool{}
	for len(got) < 20 {
		d := mixed.next(t)
		if d.event.Data.CallID == "c-stuck" {
			t.Fatal("the hanging request answered")
		}
		got[d.event.Data.CallID] = true
	}
}

// 700 events for a receiver that hangs are all kept, and all delivered, in
// order per call, once it recovers.
func TestWebhookHangingReceiverLosesNothing(t *testing.T) {
	const calls, perCall = 70, 10
	recovered := make(chan struct{})
	rc := newReceiver(t, whSecret, func(_ delivery, r *http.Request) int {
		select {
		case <-recovered:
		case <-r.Context().Done():
		}
		return 200
	})
	wh := newWebhooks(t, calling.WebhookConfig{URL: rc.URL, Timeout: time.Minute})
	for i := range perCall {
		for c := range calls {
			wh.CallStateChanged(context.Background(), callEvent(fmt.Sprintf("c-%d", c), i))
		}
	}
	if s := wh.Stats(); s.Pending != calls*perCall || s.Delivered != 0 {
		t.Fatalf("before recovery: %+v", s)
	}
	close(recovered)
	seen := map[string]bool{}
	last := map[string]string{}
	for range calls * perCall {
		d := rc.next(t)
		if seen[d.id] {
			t.Fatalf("duplicate %s", d.id)
		}
		seen[d.id] = true
		call, to := d.event.Data.CallID, d.event.Data.To
		if to <= last[call] {
			t.Fatalf("call %s: %s after %s", call, to, last[call])
		}
		last[call] = to
	}
	s := waitStats(t, wh, func(s calling.WebhookStats) bool { return s.Delivered == calls*perCall })
	if s.Dropped != 0 || s.Failed != 0 || s.Pending != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Every event's first attempt fails; events of one call still arrive in
// order: each event is attempted only once the previous one is delivered.
func TestWebhookOrderPerCallUnderRetries(t *testing.T) {
	const calls, perCall = 6, 15
	var mu sync.Mutex
	tried := map[string]bool{}
	rc := newReceiver(t, whSecret, func(d delivery, _ *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		if !tried[d.id] {
			tried[d.id] = true
			return 500
		}
		return 200
	})
	wh := newWebhooks(t, calling.WebhookConfig{URL: rc.URL, Concurrency: 3})
	for i := range perCall {
		for c := range calls {
			wh.CallStateChanged(context.Background(), callEvent(fmt.Sprintf("c-%d", c), i))
		}
	}
	attempts := map[string][]string{}
	for range 2 * calls * perCall {
		d := rc.next(t)
		attempts[d.event.Data.CallID] = append(attempts[d.event.Data.CallID], d.event.Data.To)
	}
	for c := range calls {
		got := attempts[fmt.Sprintf("c-%d", c)]
		for i := range perCall {
			want := fmt.Sprintf("n%04d", i)
			if got[2*i] != want || got[2*i+1] != want {
				t.Fatalf("call c-%d attempts %v", c, got)
			}
		}
	}
}

// Webhooks is safe for concurrent use: events raised from many goroutines
// are each delivered with an id of their own (run with -race).
func TestWebhooksConcurrentUse(t *testing.T) {
	rc := newReceiver(t, whSecret, nil)
	wh := newWebhooks(t, calling.WebhookConfig{URL: rc.URL})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				wh.CallStateChanged(context.Background(), callEvent(fmt.Sprintf("c-%d", g), i))
				wh.ParticipantChanged(context.Background(), calling.ParticipantEvent{SessionID: fmt.Sprintf("s-%d", g)})
			}
		})
	}
	wg.Wait()
	ids := map[string]bool{}
	for range 8 * 25 * 2 {
		ids[rc.next(t).id] = true
	}
	if len(ids) != 400 {
		t.Fatalf("%d distinct ids, want 400", len(ids))
	}
}

// Events stored in a FileOutbox and not delivered before the process stops
// are delivered after a restart on the same folder, with the same ids.
func TestWebhookFileOutboxRestart(t *testing.T) {
	dir := t.TempDir()
	down := newReceiver(t, whSecret, func(delivery, *http.Request) int { return 503 })
	box, err := calling.OpenFileOutbox(calling.FileOutboxConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := calling.NewWebhooks(calling.WebhookConfig{URL: down.URL, Secret: whSecret, Outbox: box, Backoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		wh.CallStateChanged(context.Background(), callEvent(fmt.Sprintf("c-%d", i%3), i))
	}
	first := map[string]bool{} // the first attempt of each call's first event
	for range 3 {
		first[down.next(t).id] = true
	}
	_ = wh.Close()
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}

	up := newReceiver(t, whSecret, nil)
	box2, err := calling.OpenFileOutbox(calling.FileOutboxConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer box2.Close()
	if box2.Len() != 30 {
		t.Fatalf("%d events after reopening, want 30", box2.Len())
	}
	wh2 := newWebhooks(t, calling.WebhookConfig{URL: up.URL, Outbox: box2})
	ids := map[string]bool{}
	for range 30 {
		ids[up.next(t).id] = true
	}
	for id := range first {
		if !ids[id] {
			t.Fatalf("%s delivered under another id after the restart", id)
		}
	}
	_ = waitStats(t, wh2, func(s calling.WebhookStats) bool { return s.Pending == 0 })
}

// Concurrency bounds the requests in flight to one receiver.
func TestWebhookConcurrencyLimit(t *testing.T) {
	rc := newReceiver(t, whSecret, func(_ delivery, r *http.Request) int {
		<-r.Context().Done() // hang until the attempt times out
		return 200
	})
	// Counted where the sender is: a hung receiver notices a cancelled
	// request only some time after the sender has given up on it.
	ct := &concurrencyTransport{next: http.DefaultTransport}
	wh := newWebhooks(t, calling.WebhookConfig{URL: rc.URL, Concurrency: 2, Timeout: 100 * time.Millisecond, MaxAttempts: 1,
		Client: &http.Client{Transport: ct}})
	for i := range 6 {
		wh.CallStateChanged(context.Background(), callEvent(fmt.Sprintf("c-%d", i), i))
	}
	_ = waitStats(t, wh, func(s calling.WebhookStats) bool { return s.Failed == 6 })
	if most := ct.most.Load(); most != 2 {
		t.Fatalf("%d requests in flight at most, want the limit, 2", most)
	}
}

// concurrencyTransport records the most requests it carried at once.
type concurrencyTransport struct {
	next           http.RoundTripper
	inflight, most atomic.Int64
}

func (c *concurrencyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	n := c.inflight.Add(1)
	defer c.inflight.Add(-1)
	for {
		m := c.most.Load()
		if n <= m || c.most.CompareAndSwap(m, n) {
			break
		}
	}
	return c.next.RoundTrip(r)
}
