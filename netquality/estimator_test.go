package netquality

import (
	"errors"
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// lossFor returns the Opus loss % that scores mos on an otherwise perfect
// path (bisection: Score falls as loss rises).
func lossFor(t *testing.T, mos float64) float64 {
	t.Helper()
	lo, hi := 0.0, 40.0
	for range 200 {
		mid := (lo + hi) / 2
		if Score(0, 0, mid, WeightOpus) > mos {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// at returns an active Opus sample at second i with the given loss.
func at(i int, loss float64) Sample {
	return Sample{At: t0.Add(time.Duration(i) * time.Second), Active: true, LossPercent: loss, LossWeight: WeightOpus, Packets: 50}
}

func newEstimator(t *testing.T, cfg EstimatorConfig) *Estimator {
	t.Helper()
	e, err := NewEstimator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The hysteresis rule at each boundary, at the margin and just past it.
func TestHysteresis(t *testing.T) {
	const m = 0.05
	for _, tc := range []struct {
		cur  Level
		mos  float64
		want Level
	}{
		// Up: only past the next threshold by more than the margin.
		{LevelGood, 4.34 + m, LevelGood},
		{LevelGood, 4.34 + m + 1e-9, LevelExcellent},
		{LevelFair, 4.03 + m, LevelFair},
		{LevelFair, 4.03 + m + 1e-9, LevelGood},
		{LevelPoor, 3.6 + m, LevelPoor},
		{LevelPoor, 3.6 + m + 1e-9, LevelFair},
		{LevelBad, 3.1 + m, LevelBad},
		{LevelBad, 3.1 + m + 1e-9, LevelPoor},
		// Down: at the margin below the current threshold, not before.
		{LevelExcellent, 4.34 - m + 1e-9, LevelExcellent},
		{LevelExcellent, 4.34 - m, LevelGood},
		{LevelGood, 4.03 - m + 1e-9, LevelGood},
		{LevelGood, 4.03 - m, LevelFair},
		{LevelFair, 3.6 - m + 1e-9, LevelFair},
		{LevelFair, 3.6 - m, LevelPoor},
		{LevelPoor, 3.1 - m + 1e-9, LevelPoor},
		{LevelPoor, 3.1 - m, LevelBad},
		// Big moves cross several levels at once.
		{LevelExcellent, 2.0, LevelBad},
		{LevelBad, 4.4, LevelExcellent},
		{LevelBad, 4.2, LevelGood},
		{LevelExcellent, 3.58, LevelFair}, // 3.58 > 3.6 − 0.05: not past POOR
		{LevelExcellent, 3.5, LevelPoor},
		// Inside the band around a threshold nothing moves.
		{LevelGood, 4.0, LevelGood},
		{LevelFair, 4.06, LevelFair},
		// From unknown: the plain level.
		{LevelUnknown, 4.0, LevelFair},
		{LevelUnknown, 4.35, LevelExcellent},
	} {
		if got := Hysteresis(tc.cur, tc.mos, m); got != tc.want {
			t.Errorf("Hysteresis(%v, %.10f) = %v, want %v", tc.cur, tc.mos, got, tc.want)
		}
	}
	// With no margin it is LevelOf.
	for mos := 1.0; mos <= 4.5; mos += 0.001 {
		for cur := LevelUnknown; cur <= LevelExcellent; cur++ {
			if got := Hysteresis(cur, mos, 0); got != LevelOf(mos) {
				t.Fatalf("Hysteresis(%v, %v, 0) = %v, want %v", cur, mos, got, LevelOf(mos))
			}
		}
	}
}

// A score hovering at a threshold, crossing it every second by less than
// the margin, never changes the level.
func TestEstimatorHoverDoesNotFlap(t *testing.T) {
	e := newEstimator(t, EstimatorConfig{})
	good := lossFor(t, 4.2)
	for i := range 5 {
		e.Add(at(i, good))
	}
	if e.Level() != LevelGood {
		t.Fatalf("level %v after 5 s at 4.2, want GOOD", e.Level())
	}
	// Alternate samples at 4.03 ± 0.04: the 5-sample window's mean loss
	// swings between 3:2 and 2:3 mixes, around the threshold.
	lo, hi := lossFor(t, 4.03-0.04), lossFor(t, 4.03+0.04)
	changes, above, below := 0, 0, 0
	for i := 5; i < 65; i++ {
		l := hi
		if i%2 == 0 {
			l = lo
		}
		if e.Add(at(i, l)) {
			changes++
		}
		if i >= 10 { // the window holds only hovering samples
			if e.MOS() > 4.03 {
				above++
			} else {
				below++
			}
			if math.Abs(e.MOS()-4.03) >= 0.05 {
				t.Fatalf("windowed MOS %v left the band", e.MOS())
			}
		}
	}
	if changes != 0 || e.Level() != LevelGood {
		t.Fatalf("%d changes while hovering, level %v; want none, GOOD", changes, e.Level())
	}
	if above == 0 || below == 0 {
		t.Fatalf("the test did not hover: %d samples above, %d below", above, below)
	}
}

// A clear move (past a threshold by the margin) changes the level at the
// first sample that shows it; a small sustained one after Hold.
func TestEstimatorMarginAndHold(t *testing.T) {
	e := newEstimator(t, EstimatorConfig{Window: time.Second}) // one sample in the window
	e.Add(at(0, lossFor(t, 4.2)))
	if e.Level() != LevelGood {
		t.Fatalf("level %v", e.Level())
	}
	// 4.00: 0.03 below GOOD's threshold, inside the margin. The level
	// follows after 3 s of it: at the 4th sample (seconds 1, 2, 3, 4).
	small := lossFor(t, 4.00)
	for i := 1; i <= 3; i++ {
		if e.Add(at(i, small)) {
			t.Fatalf("changed to %v after %d s inside the margin", e.Level(), i-1)
		}
	}
	if !e.Add(at(4, small)) || e.Level() != LevelFair {
		t.Fatalf("level %v after 3 s past the threshold, want FAIR", e.Level())
	}
	// Back up by a clear margin: at once.
	if !e.Add(at(5, lossFor(t, 4.03+0.06))) || e.Level() != LevelGood {
		t.Fatalf("level %v, want GOOD at once", e.Level())
	}
	// An interrupted small move restarts the hold.
	e.Add(at(6, small))
	e.Add(at(7, small))
	e.Add(at(8, lossFor(t, 4.1))) // back on GOOD's side
	e.Add(at(9, small))
	e.Add(at(10, small))
	e.Add(at(11, small))
	if e.Level() != LevelGood {
		t.Fatalf("level %v: the hold did not restart", e.Level())
	}
	if !e.Add(at(12, small)) || e.Level() != LevelFair {
		t.Fatalf("level %v after a full hold", e.Level())
	}

	// Hold < 0: only the margin moves it.
	e = newEstimator(t, EstimatorConfig{Window: time.Second, Hold: -1})
	e.Add(at(0, lossFor(t, 4.2)))
	for i := 1; i < 30; i++ {
		if e.Add(at(i, small)) {
			t.Fatal("the level moved inside the margin with Hold < 0")
		}
	}
	// Margin < 0: every crossing counts.
	e = newEstimator(t, EstimatorConfig{Window: time.Second, Margin: -1})
	e.Add(at(0, lossFor(t, 4.2)))
	if !e.Add(at(1, lossFor(t, 4.029))) || e.Level() != LevelFair {
		t.Fatalf("level %v with no margin", e.Level())
	}
}

// The window averages the last Window of samples and forgets older ones.
func TestEstimatorWindow(t *testing.T) {
	e := newEstimator(t, EstimatorConfig{})
	for i := range 5 {
		e.Add(at(i, 10))
	}
	if got, want := e.MOS(), Score(0, 0, 10, WeightOpus); math.Abs(got-want) > 1e-12 {
		t.Fatalf("MOS %v, want %v", got, want)
	}
	if e.Level() != LevelPoor {
		t.Fatalf("10 %% loss: %v, want POOR", e.Level())
	}
	// Clean seconds: the mean loss falls 2 points a second; after 5 the
	// lossy samples have left the window.
	for i := 5; i < 10; i++ {
		e.Add(at(i, 0))
		lossy := 9 - i
		want := Score(0, 0, float64(lossy)*10/5, WeightOpus)
		if math.Abs(e.MOS()-want) > 1e-12 {
			t.Fatalf("second %d: MOS %v, want %v (%d lossy samples in the window)", i, e.MOS(), want, lossy)
		}
	}
	if e.Level() != LevelExcellent {
		t.Fatalf("level %v after 5 clean seconds", e.Level())
	}
	q := e.Quality()
	if q.LossPercent != 0 || q.MOS != 4.40 || q.Level != LevelExcellent {
		t.Fatalf("quality %+v", q)
	}
}

// Samples weigh by their packets: a second of DTX with one packet lost of
// three is not 33 % loss for the window. RTT is averaged over the samples
// that measured one; jitter by packets.
func TestEstimatorWeights(t *testing.T) {
	e := newEstimator(t, EstimatorConfig{})
	for i := range 4 {
		s := at(i, 0)
		s.JitterMs, s.RTTMs = 10, 40
		e.Add(s)
	}
	dtx := at(4, 100.0/3)
	dtx.Packets, dtx.JitterMs = 3, 30 // no RTT
	e.Add(dtx)
	q := e.Quality()
	wantLoss := 100.0 / 203    // 1 lost of 203 packets
	wantJitter := 2090.0 / 203 // (200·10 + 3·30) / 203
	if math.Abs(q.LossPercent-math.Round(wantLoss*10)/10) > 1e-9 ||
		math.Abs(q.JitterMs-math.Round(wantJitter*10)/10) > 1e-9 || q.RTTMs != 40 {
		t.Fatalf("quality %+v, want loss %.3f jitter %.3f rtt 40", q, wantLoss, wantJitter)
	}
	if want := Score(40, wantJitter, wantLoss, WeightOpus); math.Abs(e.MOS()-want) > 1e-9 {
		t.Fatalf("MOS %v, want %v", e.MOS(), want)
	}
}

// An inactive participant keeps its level: inactive samples are not scored,
// and a window of them changes nothing.
func TestEstimatorInactive(t *testing.T) {
	e := newEstimator(t, EstimatorConfig{})
	if e.Add(Sample{At: t0}) || e.Level() != LevelUnknown || e.MOS() != 0 {
		t.Fatal("an inactive first sample was scored")
	}
	for i := range 5 {
		e.Add(at(i, 0))
	}
	before := e.Quality()
	for i := 5; i < 30; i++ {
		if e.Add(Sample{At: t0.Add(time.Duration(i) * time.Second)}) {
			t.Fatalf("a muted second %d changed the level", i)
		}
	}
	if e.Level() != LevelExcellent || e.Quality() != before {
		t.Fatalf("after muting: %+v, want %+v", e.Quality(), before)
	}
	// Unmuted on a bad network: scored from the new samples alone.
	if !e.Add(at(30, 20)) || e.Level() != LevelBad {
		t.Fatalf("level %v after unmuting at 20 %% loss", e.Level())
	}
	// Non-finite figures count as inactive.
	if e.Add(Sample{At: t0.Add(31 * time.Second), Active: true, LossPercent: math.NaN()}) {
		t.Fatal("a NaN sample changed the level")
	}
}

// Samples older than the newest are ignored.
func TestEstimatorOutOfOrder(t *testing.T) {
	e := newEstimator(t, EstimatorConfig{})
	e.Add(at(5, 0))
	if e.Add(at(4, 30)) || e.Level() != LevelExcellent {
		t.Fatal("an older sample was scored")
	}
}

func TestEstimatorConfig(t *testing.T) {
	for _, cfg := range []EstimatorConfig{{Window: -1}, {Margin: 0.15}, {Margin: 1}} {
		if _, err := NewEstimator(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	if _, err := NewEstimator(EstimatorConfig{Margin: 0.1499}); err != nil {
		t.Error(err)
	}
}

// Add allocates nothing once the window is full.
func TestEstimatorAddAllocatesNothing(t *testing.T) {
	e := newEstimator(t, EstimatorConfig{})
	i := 0
	if n := testing.AllocsPerRun(1000, func() { e.Add(at(i, float64(i%7))); i++ }); n != 0 {
		t.Fatalf("%v allocations per Add", n)
	}
}

// Detection times with the defaults, one sample a second: a clean path
// that starts losing 10 % reads GOOD after 1 s, FAIR after 3 s, POOR after
// 5 s; when the loss stops it is back to EXCELLENT after 5 s on a perfect
// path, and after 8 s on a 40 ms one (MOS 4.38, inside the margin of
// EXCELLENT's threshold: the hold decides).
func TestEstimatorStepTimes(t *testing.T) {
	for _, tc := range []struct {
		rtt, jitter float64
		recover     int
	}{{0, 0, 5}, {40, 5, 8}} {
		e := newEstimator(t, EstimatorConfig{})
		sample := func(i int, loss float64) Sample {
			s := at(i, loss)
			s.RTTMs, s.JitterMs = tc.rtt, tc.jitter
			return s
		}
		for i := range 10 {
			e.Add(sample(i, 0))
		}
		if e.Level() != LevelExcellent {
			t.Fatalf("rtt %v: clean path %v", tc.rtt, e.Level())
		}
		first := map[Level]int{}
		for k := 1; k <= 10; k++ {
			if e.Add(sample(9+k, 10)) {
				first[e.Level()] = k
			}
		}
		if first[LevelGood] != 1 || first[LevelFair] != 3 || first[LevelPoor] != 5 || e.Level() != LevelPoor {
			t.Fatalf("rtt %v: degraded after %v s, now %v", tc.rtt, first, e.Level())
		}
		back := 0
		for k := 1; k <= 12 && back == 0; k++ {
			if e.Add(sample(19+k, 0)) && e.Level() == LevelExcellent {
				back = k
			}
		}
		if back != tc.recover {
			t.Fatalf("rtt %v: EXCELLENT again after %d s, want %d", tc.rtt, back, tc.recover)
		}
	}
}
