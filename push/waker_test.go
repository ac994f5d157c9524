package push_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboard-rtc/switchboard/push"
)

// outcomes collects what OnOutcome is told.
type outcomes struct {
	mu  sync.Mutex
	all []push.Outcome
}

func (o *outcomes) add(x push.Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all = append(o.all, x)
}

func (o *outcomes) list() []push.Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]push.Outcome(nil), o.all...)
}

// of returns the outcomes of one device, in order.
func (o *outcomes) of(deviceID string) []push.Outcome {
	var out []push.Outcome
	for _, x := range o.list() {
		if x.DeviceID == deviceID {
			out = append(out, x)
		}
	}
	return out
}

func kinds(os []push.Outcome) []push.OutcomeKind {
	var k []push.OutcomeKind
	for _, o := range os {
		k = append(k, o.Kind)
	}
	return k
}

// script answers each device's sends in turn from a list (the last answer
// repeats); an answer of errHang blocks until ctx ends.
type script struct {
	mu      sync.Mutex
	answers map[string][]error // by token
	sends   map[string][]time.Time
}

var errHang = errors.New("hang")

func newScript() *script {
	return &script{answers: map[string][]error{}, sends: map[string][]time.Time{}}
}

func (s *script) Send(ctx context.Context, d push.Device, w push.Wakeup) error {
	s.mu.Lock()
	s.sends[d.Token] = append(s.sends[d.Token], time.Now())
	a := s.answers[d.Token]
	var err error
	if len(a) > 0 {
		err = a[0]
		if len(a) > 1 {
			s.answers[d.Token] = a[1:]
		}
	}
	s.mu.Unlock()
	if err == errHang {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (s *script) sendTimes(token string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.sends[token]...)
}

var (
	dead      = &push.SendError{Failure: push.FailureDeadToken, Status: 410, Reason: "Unregistered"}
	transient = &push.SendError{Failure: push.FailureTransient, Status: 429, Reason: "TooManyRequests"}
	permanent = &push.SendError{Failure: push.FailurePermanent, Status: 400, Reason: "BadTopic"}
)

type wakerTest struct {
	reg  *push.MemoryRegistry
	s    *script
	outs *outcomes
	w    *push.Waker
}

func newWakerTest(t *testing.T, cfg push.Config) *wakerTest {
	wt := &wakerTest{reg: push.NewMemoryRegistry(push.MemoryRegistryConfig{}), s: newScript(), outs: &outcomes{}}
	cfg.Registry = wt.reg
	if cfg.Notifiers == nil {
		cfg.Notifiers = map[push.Platform]push.Notifier{push.APNs: wt.s, push.FCM: wt.s}
	}
	cfg.OnOutcome = wt.outs.add
	w, err := push.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	wt.w = w
	t.Cleanup(func() { _ = w.Close() })
	return wt
}

func (wt *wakerTest) device(t *testing.T, identity string, p push.Platform, token string, answers ...error) push.Device {
	wt.s.answers[token] = answers
	return register(t, wt.reg, "acct", identity, p, token)
}

func wakeup(identity string, ttl time.Duration) push.Wakeup {
	return push.Wakeup{Account: "acct", Identity: identity, CallID: "c-1", From: "bob", DisplayName: "Bob", ExpiresAt: time.Now().Add(ttl)}
}

// All devices are sent to at once (a send that waits for the others would
// deadlock if they were sequential); one acceptance is success; the dead
// token's device is removed; every outcome is reported.
func TestWakerFanOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wt := newWakerTest(t, push.Config{})
		var barrier sync.WaitGroup
		barrier.Add(3)
		wait := push.NotifierFunc(func(ctx context.Context, d push.Device, w push.Wakeup) error {
			barrier.Done()
			barrier.Wait()
			return wt.s.Send(ctx, d, w)
		})
		wt.w = mustNew(t, push.Config{Registry: wt.reg, OnOutcome: wt.outs.add, Notifiers: map[push.Platform]push.Notifier{push.APNs: wait, push.FCM: wait}})
		deadDev := wt.device(t, "alice", push.APNs, apnsToken(1), dead)
		permDev := wt.device(t, "alice", push.FCM, "fcm-perm", permanent)
		okDev := wt.device(t, "alice", push.FCM, "fcm-ok", nil)
		if err := wt.w.Wake(ctx, wakeup("alice", 30*time.Second)); err != nil {
			t.Fatalf("Wake: %v", err)
		}
		synctest.Wait()
		ds, _ := wt.reg.Devices(ctx, "acct", "alice")
		if len(ds) != 2 {
			t.Fatalf("devices left %+v, want the dead one removed", ds)
		}
		want := map[string]push.OutcomeKind{deadDev.ID: push.OutcomeDeadTokenRemoved, permDev.ID: push.OutcomeFailed, okDev.ID: push.OutcomeDelivered}
		for id, k := range want {
			got := wt.outs.of(id)
			if len(got) != 1 || got[0].Kind != k || got[0].Attempt != 1 || got[0].CallID != "c-1" || got[0].Identity != "alice" {
				t.Errorf("device %s: %+v, want one %s", id, got, k)
			}
		}
		if o := wt.outs.of(deadDev.ID)[0]; o.Status != 410 || o.Reason != "Unregistered" || o.Platform != push.APNs {
			t.Errorf("dead outcome %+v", o)
		}
	})
}

func mustNew(t *testing.T, cfg push.Config) *push.Waker {
	t.Helper()
	w, err := push.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func TestWakerAllDead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wt := newWakerTest(t, push.Config{})
		wt.device(t, "alice", push.APNs, apnsToken(1), dead)
		wt.device(t, "alice", push.FCM, "fcm-1", &push.SendError{Failure: push.FailureDeadToken, Status: 404, Reason: "UNREGISTERED"})
		err := wt.w.Wake(ctx, wakeup("alice", 30*time.Second))
		if !errors.Is(err, push.ErrNotDelivered) || !errors.Is(err, push.ErrDeadToken) {
			t.Fatalf("Wake: %v, want ErrNotDelivered wrapping ErrDeadToken", err)
		}
		if wt.reg.Len() != 0 {
			t.Fatalf("%d devices left", wt.reg.Len())
		}
		if err := wt.w.Wake(ctx, wakeup("alice", 30*time.Second)); !errors.Is(err, push.ErrNoDevices) {
			t.Fatalf("second Wake: %v", err)
		}
		last := wt.outs.list()[len(wt.outs.list())-1]
		if last.Kind != push.OutcomeFailed || last.Reason != "no_devices" || last.DeviceID != "" {
			t.Fatalf("no-devices outcome %+v", last)
		}
	})
}

// A send that hangs is cut at AttemptTimeout, counted as transient, and
// retried; here the retry is accepted.
func TestWakerCutsHangingProvider(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wt := newWakerTest(t, push.Config{AttemptTimeout: 2 * time.Second, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
		d := wt.device(t, "alice", push.FCM, "fcm-1", errHang, nil)
		start := time.Now()
		if err := wt.w.Wake(ctx, wakeup("alice", 30*time.Second)); err != nil {
			t.Fatal(err)
		}
		got := wt.outs.of(d.ID)
		if len(got) != 2 || got[0].Kind != push.OutcomeRetried || got[0].Reason != "timeout" || got[1].Kind != push.OutcomeDelivered || got[1].Attempt != 2 {
			t.Fatalf("outcomes %+v", got)
		}
		if cut := got[0].At.Sub(start); cut != 2*time.Second {
			t.Fatalf("cut after %v, want the 2 s attempt timeout", cut)
		}
		sends := wt.s.sendTimes("fcm-1")
		if gap := sends[1].Sub(sends[0]); gap < 2*time.Second+50*time.Millisecond || gap > 2*time.Second+100*time.Millisecond {
			t.Fatalf("second send %v after the first, want timeout + jittered backoff", gap)
		}
	})
}

// Transient failures are retried with exponential backoff and jitter, never
// past the expiry; the last outcome is expired and Wake fails.
func TestWakerRetriesStopAtExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wt := newWakerTest(t, push.Config{InitialBackoff: time.Second, MaxBackoff: 4 * time.Second})
		d := wt.device(t, "alice", push.APNs, apnsToken(1), transient)
		wk := wakeup("alice", 20*time.Second)
		err := wt.w.Wake(ctx, wk)
		if !errors.Is(err, push.ErrNotDelivered) || !errors.Is(err, push.ErrExpired) || !errors.Is(err, push.ErrTransient) {
			t.Fatalf("Wake: %v", err)
		}
		if time.Now().After(wk.ExpiresAt) {
			t.Fatalf("Wake returned %v after the expiry", time.Now().Sub(wk.ExpiresAt))
		}
		got := wt.outs.of(d.ID)
		last := got[len(got)-1]
		if last.Kind != push.OutcomeExpired {
			t.Fatalf("last outcome %+v", last)
		}
		sends := wt.s.sendTimes(apnsToken(1))
		if len(sends) < 5 || len(sends) != len(got) {
			t.Fatalf("%d sends, %d outcomes: %v", len(sends), len(got), kinds(got))
		}
		jittered := false
		for i := 1; i < len(sends); i++ {
			gap := sends[i].Sub(sends[i-1])
			b := min(time.Second<<(i-1), 4*time.Second)
			jittered = jittered || gap < b
			if gap < b/2 || gap > b || gap != got[i-1].RetryIn {
				t.Errorf("retry %d after %v, want in [%v, %v] and as announced (%v)", i, gap, b/2, b, got[i-1].RetryIn)
			}
			if !sends[i].Before(wk.ExpiresAt) {
				t.Errorf("send %d at or after the expiry", i)
			}
		}
		if !jittered {
			t.Error("every retry waited the full backoff: no jitter")
		}
	})
}

// A provider's retry-after replaces the backoff; one that lands past the
// expiry ends the delivery at once.
func TestWakerRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wt := newWakerTest(t, push.Config{})
		later := &push.SendError{Failure: push.FailureTransient, Status: 503, RetryAfter: 3 * time.Second}
		d := wt.device(t, "alice", push.FCM, "fcm-1", later, nil)
		if err := wt.w.Wake(ctx, wakeup("alice", 30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if s := wt.s.sendTimes("fcm-1"); s[1].Sub(s[0]) != 3*time.Second {
			t.Fatalf("retried after %v, want 3 s", s[1].Sub(s[0]))
		}
		tooLate := &push.SendError{Failure: push.FailureTransient, Status: 429, RetryAfter: time.Minute}
		wt.s.answers["fcm-1"] = []error{tooLate}
		start := time.Now()
		if err := wt.w.Wake(ctx, wakeup("alice", 30*time.Second)); !errors.Is(err, push.ErrExpired) {
			t.Fatalf("Wake: %v", err)
		}
		if time.Since(start) != 0 {
			t.Fatalf("waited %v for a retry that could not happen", time.Since(start))
		}
		if got := wt.outs.of(d.ID); got[len(got)-1].Kind != push.OutcomeExpired {
			t.Fatalf("%v", kinds(got))
		}
	})
}

// Wake returns at the first acceptance; other devices go on retrying in
// the background and report their own outcomes.
func TestWakerBackgroundRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wt := newWakerTest(t, push.Config{InitialBackoff: time.Second})
		wt.device(t, "alice", push.FCM, "fast", nil)
		slow := wt.device(t, "alice", push.APNs, apnsToken(1), transient, transient, nil)
		start := time.Now()
		if err := wt.w.Wake(ctx, wakeup("alice", 30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 0 {
			t.Fatalf("Wake waited %v for the slow device", time.Since(start))
		}
		synctest.Wait()
		time.Sleep(5 * time.Second) // virtual time: past two backoffs of at most 1 s and 2 s
		synctest.Wait()
		if k := kinds(wt.outs.of(slow.ID)); len(k) != 3 || k[2] != push.OutcomeDelivered {
			t.Fatalf("slow device: %v", k)
		}
	})
}

// The caller giving up stops the deliveries; Close stops them too.
func TestWakerCancelAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wt := newWakerTest(t, push.Config{AttemptTimeout: time.Minute})
		d := wt.device(t, "alice", push.FCM, "fcm-1", errHang)
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := wt.w.Wake(cctx, wakeup("alice", 30*time.Second)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wake: %v", err)
		}
		synctest.Wait()
		if got := wt.outs.of(d.ID); len(got) != 1 || got[0].Kind != push.OutcomeFailed || got[0].Reason != "canceled" {
			t.Fatalf("after cancel: %+v", got)
		}

		bg := wt.device(t, "bob", push.FCM, "fcm-2", nil)
		wt.device(t, "bob", push.FCM, "fcm-3", errHang)
		if err := wt.w.Wake(ctx, wakeup("bob", 30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := wt.w.Close(); err != nil {
			t.Fatal(err)
		}
		var closed int
		for _, o := range wt.outs.list() {
			if o.Identity == "bob" && o.Kind == push.OutcomeFailed && o.Reason == "closed" {
				closed++
			}
		}
		if closed != 1 || wt.outs.of(bg.ID)[0].Kind != push.OutcomeDelivered {
			t.Fatalf("after Close: %+v", wt.outs.list())
		}
		if err := wt.w.Wake(ctx, wakeup("bob", 30*time.Second)); !errors.Is(err, push.ErrClosed) {
			t.Fatalf("Wake after Close: %v", err)
		}
	})
}

func TestWakerRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wt := newWakerTest(t, push.Config{Notifiers: map[push.Platform]push.Notifier{}})
		wt.device(t, "alice", push.APNs, apnsToken(1))
		if err := wt.w.Wake(ctx, push.Wakeup{Account: "acct", Identity: "alice", CallID: "c"}); !errors.Is(err, push.ErrInvalidWakeup) {
			t.Fatalf("no expiry: %v", err)
		}
		if err := wt.w.Wake(ctx, wakeup("alice", -time.Second)); !errors.Is(err, push.ErrExpired) {
			t.Fatalf("expired: %v", err)
		}
		if err := wt.w.Wake(ctx, wakeup("alice", time.Minute)); !errors.Is(err, push.ErrNoNotifier) {
			t.Fatalf("no notifier: %v", err)
		}
	})
	if _, err := push.New(push.Config{Notifiers: map[push.Platform]push.Notifier{"webpush": push.Apps{}}}); !errors.Is(err, push.ErrInvalidPlatform) {
		t.Fatalf("unknown platform: %v", err)
	}
	if _, err := push.New(push.Config{InitialBackoff: time.Second, MaxBackoff: time.Millisecond}); err == nil {
		t.Fatal("MaxBackoff below InitialBackoff accepted")
	}
}

// Apps sends each device through its app's notifier, with "" as the fallback.
func TestApps(t *testing.T) {
	var got []string
	named := func(name string) push.Notifier {
		return push.NotifierFunc(func(context.Context, push.Device, push.Wakeup) error { got = append(got, name); return nil })
	}
	a := push.Apps{"com.a": named("a"), "": named("default")}
	for _, app := range []string{"com.a", "com.b", ""} {
		_ = a.Send(ctx, push.Device{App: app}, push.Wakeup{})
	}
	if len(got) != 3 || got[0] != "a" || got[1] != "default" || got[2] != "default" {
		t.Fatalf("%v", got)
	}
	if err := (push.Apps{"com.a": named("a")}).Send(ctx, push.Device{App: "com.b"}, push.Wakeup{}); !errors.Is(err, push.ErrNoNotifier) || !errors.Is(err, push.ErrPermanent) {
		t.Fatalf("%v", err)
	}
}

// sendCounter fails every send with a transient error, and permanently
// once it has made limit sends (so a retry loop that never waits ends).
type sendCounter struct {
	mu    sync.Mutex
	n     int
	limit int
}

func (s *sendCounter) Send(context.Context, push.Device, push.Wakeup) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if s.n > s.limit {
		return permanent
	}
	return transient
}

// Many retries with a long InitialBackoff keep waiting at least half of
// MaxBackoff: the doubling must not overflow into a negative wait (which
// retried at once, in a loop, until the expiry).
func TestWakerBackoffNoOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := &sendCounter{limit: 1000}
		wt := newWakerTest(t, push.Config{InitialBackoff: 5 * time.Second, MaxBackoff: 10 * time.Second,
			Notifiers: map[push.Platform]push.Notifier{push.APNs: sc}})
		d := wt.device(t, "alice", push.APNs, apnsToken(1))
		err := wt.w.Wake(ctx, wakeup("alice", 10*time.Minute))
		if !errors.Is(err, push.ErrExpired) {
			t.Errorf("Wake: %v, want the expiry", err)
		}
		got := wt.outs.of(d.ID)
		if len(got) < 40 || len(got) > 121 {
			t.Errorf("%d outcomes over 10 minutes of retries at 5 to 10 s", len(got))
		}
		for i, o := range got {
			if o.Kind == push.OutcomeRetried && (o.RetryIn < 2500*time.Millisecond || o.RetryIn > 10*time.Second) {
				t.Fatalf("retry %d (attempt %d) waits %v, want 2.5 to 10 s", i, o.Attempt, o.RetryIn)
			}
		}
	})
}
