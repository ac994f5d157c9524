package netquality

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/clocktest"
)

// recorder collects a Monitor's changes.
type recorder struct {
	mu      sync.Mutex
	changes []Change
}

func (r *recorder) on(c Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
}

func (r *recorder) take() []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.changes
	r.changes = nil
	return out
}

func newMonitor(t *testing.T, cfg Config) (*Monitor, *recorder) {
	t.Helper()
	rec := &recorder{}
	cfg.OnChange = rec.on
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, rec
}

// source is a Source whose next snapshot the test sets.
type source struct {
	mu   sync.Mutex
	next Sample
}

func (s *source) set(x Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = x
}

func (s *source) Snapshot(at time.Time) Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.next
	x.At = at
	return x
}

func sec(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }

func active(loss, rtt float64) Sample {
	return Sample{Active: true, LossPercent: loss, RTTMs: rtt, LossWeight: WeightOpus, Packets: 50}
}

// A clean start reports EXCELLENT for each direction; loss on the uplink
// alone degrades the uplink and the overall level, not the downlink; the
// Change carries what both events need.
func TestMonitorChanges(t *testing.T) {
	m, rec := newMonitor(t, Config{})
	m.Join("p-a", "alice")
	up, down := &source{}, &source{}
	if _, err := m.Attach("p-a", Uplink, up); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Attach("p-a", Downlink, down); err != nil {
		t.Fatal(err)
	}
	up.set(active(0, 0))    // RTP alone measures no RTT
	down.set(active(0, 30)) // the receiver reports do
	m.Tick(sec(0))
	got := rec.take()
	if len(got) != 2 || got[0].Direction != Uplink || got[1].Direction != Downlink {
		t.Fatalf("first tick: %+v", got)
	}
	for _, c := range got {
		if c.Of(c.Direction).Level != LevelExcellent || c.Previous != LevelUnknown || c.ParticipantID != "p-a" || c.Identity != "alice" || !c.At.Equal(sec(0)) {
			t.Fatalf("%+v", c)
		}
	}
	if got[1].Level != LevelExcellent || got[1].PreviousLevel != LevelExcellent || got[0].PreviousLevel != LevelUnknown {
		t.Fatalf("overall: %+v", got)
	}
	// The uplink took the downlink's RTT (measured in the same tick).
	if got[1].Uplink.RTTMs != 30 || got[1].Downlink.RTTMs != 30 {
		t.Fatalf("RTT not shared: %+v", got[1].Report)
	}

	// 10 % loss on the uplink: POOR once the window is mostly lossy.
	up.set(active(10, 0))
	var change *Change
	for i := 1; i <= 6 && change == nil; i++ {
		m.Tick(sec(i))
		for _, c := range rec.take() {
			if c.Direction != Uplink {
				t.Fatalf("a change on the clean direction: %+v", c)
			}
			if c.Uplink.Level <= LevelPoor {
				change = &c
			}
		}
	}
	if change == nil {
		t.Fatal("no POOR uplink within 6 s of 10 % loss")
	}
	if change.Level != change.Uplink.Level || change.Downlink.Level != LevelExcellent || change.MOS != change.Uplink.MOS {
		t.Fatalf("overall is not the worse direction: %+v", change.Report)
	}
	// The events the host builds, as JSON.
	self, err := json.Marshal(struct {
		Type string `json:"type"`
		Report
	}{"networkQuality", change.Report})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"type":"networkQuality","participantId":"p-a","identity":"alice","level":"%v","mos":%v,`+
		`"uplink":{"level":"%v","mos":%v,"loss":%v,"jitterMs":0,"rttMs":30},`+
		`"downlink":{"level":"EXCELLENT","mos":4.39,"loss":0,"jitterMs":0,"rttMs":30}}`,
		change.Level, change.MOS, change.Uplink.Level, change.Uplink.MOS, change.Uplink.LossPercent)
	if string(self) != want {
		t.Fatalf("networkQuality\n%s\nwant\n%s", self, want)
	}
	peer, _ := json.Marshal(struct {
		ParticipantID string    `json:"participantId"`
		Identity      string    `json:"identity"`
		Level         Level     `json:"level"`
		Direction     Direction `json:"direction"`
	}{change.ParticipantID, change.Identity, change.Of(change.Direction).Level, change.Direction})
	if want := `{"participantId":"p-a","identity":"alice","level":"POOR","direction":"uplink"}`; string(peer) != want {
		t.Fatalf("participantNetworkQuality %s, want %s", peer, want)
	}
	if r, ok := m.Report("p-a"); !ok || r != change.Report {
		t.Fatalf("Report = %+v %v", r, ok)
	}
}

// A muted participant (inactive samples) gets no event and keeps its
// level; a removed one gets none at all.
func TestMonitorMutedAndRemoved(t *testing.T) {
	m, rec := newMonitor(t, Config{})
	m.Join("p-a", "alice")
	m.Join("p-b", "bob")
	upA, upB := &source{}, &source{}
	_, _ = m.Attach("p-a", Uplink, upA)
	_, _ = m.Attach("p-b", Uplink, upB)
	upA.set(active(0, 20))
	upB.set(active(0, 20))
	m.Tick(sec(0))
	if n := len(rec.take()); n != 2 {
		t.Fatalf("%d changes at start", n)
	}
	upA.set(Sample{}) // muted: nothing sent
	for i := 1; i < 20; i++ {
		m.Tick(sec(i))
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("changes while muted: %+v", got)
	}
	if r, _ := m.Report("p-a"); r.Uplink.Level != LevelExcellent {
		t.Fatalf("muted participant's level %v", r.Uplink.Level)
	}

	// Bob degrades, then leaves: nothing about him after Remove.
	upB.set(active(30, 20))
	m.Tick(sec(20))
	if got := rec.take(); len(got) != 1 || got[0].ParticipantID != "p-b" {
		t.Fatalf("%+v", got)
	}
	m.Remove("p-b")
	upB.set(active(0, 20))
	for i := 21; i < 40; i++ {
		m.Tick(sec(i))
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("changes after Remove: %+v", got)
	}
	if _, ok := m.Report("p-b"); ok {
		t.Fatal("a removed participant's report")
	}
	if err := m.Observe("p-b", Uplink, active(0, 0)); !errors.Is(err, ErrUnknownParticipant) {
		t.Fatalf("Observe after Remove: %v", err)
	}
	if _, err := m.Attach("p-b", Uplink, upB); !errors.Is(err, ErrUnknownParticipant) {
		t.Fatalf("Attach after Remove: %v", err)
	}
}

// Observe for hosts with their own statistics; detach stops a source.
func TestMonitorObserveAndDetach(t *testing.T) {
	m, rec := newMonitor(t, Config{Estimator: EstimatorConfig{Window: time.Second}})
	m.Join("p", "")
	if err := m.Observe("p", Direction(0), active(0, 0)); !errors.Is(err, ErrInvalidDirection) {
		t.Fatal(err)
	}
	if _, err := m.Attach("p", Direction(3), &source{}); !errors.Is(err, ErrInvalidDirection) {
		t.Fatal(err)
	}
	s := active(0, 0)
	s.At = sec(0)
	if err := m.Observe("p", Downlink, s); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 1 || got[0].Downlink.Level != LevelExcellent || got[0].Level != LevelExcellent {
		t.Fatalf("%+v", got)
	}
	// Two sources on the uplink merge; detaching the lossy one clears it.
	clean, lossy := &source{}, &source{}
	clean.set(active(0, 0))
	lossy.set(active(40, 0))
	_, _ = m.Attach("p", Uplink, clean)
	detach, _ := m.Attach("p", Uplink, lossy)
	m.Tick(sec(1))
	if got := rec.take(); len(got) != 1 || got[0].Uplink.LossPercent != 20 || got[0].Level != got[0].Uplink.Level {
		t.Fatalf("merged: %+v", got)
	}
	detach()
	detach() // twice is harmless
	m.Tick(sec(2))
	if got := rec.take(); len(got) != 1 || got[0].Uplink.LossPercent != 0 {
		t.Fatalf("after detach: %+v", got)
	}
	m.Join("p", "renamed")
	if r, _ := m.Report("p"); r.Identity != "renamed" || r.Uplink.Level != LevelExcellent {
		t.Fatalf("rejoin: %+v", r)
	}
}

// OnChange may read the monitor (Report, Join, Attach) without deadlock.
func TestMonitorOnChangeMayRead(t *testing.T) {
	var m *Monitor
	seen := 0
	m, err := New(Config{OnChange: func(c Change) {
		if r, ok := m.Report(c.ParticipantID); ok && r.Level == c.Level {
			seen++
		}
		m.Join("other", "")
	}})
	if err != nil {
		t.Fatal(err)
	}
	m.Join("p", "")
	s := active(0, 0)
	s.At = sec(0)
	_ = m.Observe("p", Uplink, s)
	if seen != 1 {
		t.Fatal("OnChange did not see the report")
	}
}

func TestMonitorConfig(t *testing.T) {
	for _, cfg := range []Config{{Interval: -1}, {Estimator: EstimatorConfig{Window: -1}}} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	var d Direction
	if err := json.Unmarshal([]byte(`"DOWNLINK"`), &d); err != nil || d != Downlink {
		t.Fatalf("%v %v", d, err)
	}
	if err := d.UnmarshalText([]byte("sideways")); !errors.Is(err, ErrInvalidDirection) {
		t.Fatal(err)
	}
	if _, err := json.Marshal(Direction(0)); err == nil {
		t.Fatal("marshalled an invalid direction")
	}
}

// Run ticks every Interval by the clock and ends with its context,
// leaving no goroutine (synctest fails the test if one is left).
func TestMonitorRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, rec := newMonitor(t, Config{}) // the real clock, faked by synctest
		m.Join("p", "")
		src := &source{}
		src.set(active(0, 0))
		_, _ = m.Attach("p", Uplink, src)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- m.Run(ctx) }()
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		if n := len(rec.take()); n != 0 {
			t.Fatalf("%d changes before the first tick", n)
		}
		time.Sleep(600 * time.Millisecond) // 1.1 s
		synctest.Wait()
		if got := rec.take(); len(got) != 1 {
			t.Fatalf("%d changes after the first tick", len(got))
		}
		src.set(active(40, 0))
		time.Sleep(time.Second)
		synctest.Wait()
		if got := rec.take(); len(got) != 1 || got[0].Uplink.Level != LevelBad {
			t.Fatalf("second tick: %+v", got)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
	})
}

// Run with an injected clock: the tick lands Interval after Run starts,
// at the clock's time.
func TestMonitorRunClock(t *testing.T) {
	clk := clocktest.New(t0)
	m, rec := newMonitor(t, Config{Clock: clk, Interval: 2 * time.Second})
	m.Join("p", "")
	src := &source{}
	src.set(active(0, 0))
	_, _ = m.Attach("p", Uplink, src)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	poll(t, func() bool { return clk.Pending() == 1 }) // Run has scheduled its tick
	clk.Advance(time.Second)
	clk.Advance(time.Second)
	var got []Change
	poll(t, func() bool { got = append(got, rec.take()...); return len(got) > 0 })
	if len(got) != 1 || !got[0].At.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("%+v", got)
	}
	poll(t, func() bool { return clk.Pending() == 1 }) // the next one
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if n := clk.Pending(); n != 0 {
		t.Fatalf("%d timers left after Run", n)
	}
}

// poll waits for cond, failing the test after 10 s.
func poll(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

// Concurrent use: ticks, observations, joins and removals from several
// goroutines (run with -race); no change for a participant after its
// Remove returned.
func TestMonitorConcurrent(t *testing.T) {
	var removed sync.Map
	var bad sync.Map
	m, err := New(Config{OnChange: func(c Change) {
		if _, gone := removed.Load(c.ParticipantID); gone {
			bad.Store(c.ParticipantID, true)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				pid := fmt.Sprintf("p-%d-%d", g, i)
				m.Join(pid, "")
				src := &source{}
				src.set(active(float64(i%30), 10))
				detach, _ := m.Attach(pid, Uplink, src)
				s := active(float64(i%20), 0)
				s.At = sec(i)
				_ = m.Observe(pid, Downlink, s)
				m.Tick(sec(i))
				_, _ = m.Report(pid)
				if i%3 == 0 {
					detach()
				}
				m.Remove(pid)
				removed.Store(pid, true)
			}
		})
	}
	wg.Wait()
	bad.Range(func(k, _ any) bool {
		t.Errorf("a change for %v after Remove", k)
		return true
	})
}

// Changes are logged at debug level, with no identity or figures beyond
// the levels.
func TestMonitorLogs(t *testing.T) {
	var buf strings.Builder
	m, err := New(Config{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	m.Join("p-1", "alice")
	s := active(0, 0)
	s.At = sec(0)
	_ = m.Observe("p-1", Uplink, s)
	if got := buf.String(); !strings.Contains(got, "participant=p-1 direction=uplink level=EXCELLENT previous=UNKNOWN overall=EXCELLENT") {
		t.Fatalf("log %q", got)
	}
}
