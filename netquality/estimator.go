package netquality

import (
	"cmp"
	"math"
	"time"
)

// Defaults of EstimatorConfig (and of the Monitor's estimators).
const (
	DefaultWindow = 5 * time.Second
	DefaultMargin = 0.05
	DefaultHold   = 3 * time.Second
)

// EstimatorConfig tunes an Estimator. The zero value is the default.
type EstimatorConfig struct {
	// Window is how far back samples are averaged: a sample counts while
	// its At is within Window of the newest sample's. Default 5 s.
	Window time.Duration
	// Margin is how far past a level's threshold, in MOS, the windowed
	// score must go to change the level at once. Default 0.05; negative
	// means none (every crossing counts); 0.15 or more is an error (the
	// GOOD band is 0.31 wide, so a wider margin would make levels
	// unreachable by it).
	Margin float64
	// Hold is how long the windowed score must stay past a threshold, by
	// less than Margin, before the level follows it anyway. Default 3 s;
	// negative means never (only a crossing by Margin changes the level).
	Hold time.Duration
}

func (c EstimatorConfig) withDefaults() (EstimatorConfig, error) {
	if c.Window < 0 {
		return c, configError("Window", "must not be negative")
	}
	if c.Margin >= 0.15 {
		// The narrowest band (GOOD, 4.03 to 4.34) is 0.31 wide; a margin
		// of half of it would leave parts of the scale unreachable.
		return c, configError("Margin", "must be below 0.15")
	}
	c.Window = cmp.Or(c.Window, DefaultWindow)
	c.Hold = cmp.Or(c.Hold, DefaultHold)
	if c.Margin == 0 {
		c.Margin = DefaultMargin
	} else if c.Margin < 0 {
		c.Margin = 0
	}
	return c, nil
}

// Estimator turns Samples of one direction into a windowed score and a
// level with hysteresis. It is pure: time comes only from the samples'
// At. It is not safe for concurrent use (Monitor guards its own).
//
// The rule, with the default config: the window averages the active
// samples of the last 5 s (loss and jitter weighted by packets, RTT over
// the samples that measured one) and scores them (Score). The first score
// sets the level directly. After that the level changes
//   - at once when the windowed MOS passes a threshold by more than the
//     margin (0.05): up to a level whose threshold it exceeds by more than
//     0.05, down past a threshold it is at least 0.05 below;
//   - or when the plain level of the windowed MOS (LevelOf) has differed
//     from the current level, on the same side, for 3 s of samples.
//
// So a score hovering at a threshold changes nothing, a clear move is
// reported at the next sample, and a sustained small move after 3 s.
// Inactive samples are not scored: a window with none leaves the level and
// the score as they were (a muted participant keeps its last level).
type Estimator struct {
	cfg     EstimatorConfig
	samples []Sample // in At order, oldest first
	level   Level
	mos     float64
	quality Quality
	// pendingSince is when the plain level first differed from level (on
	// the side pendingUp says); zero when it does not.
	pendingSince time.Time
	pendingUp    bool
}

// NewEstimator returns an Estimator; the zero EstimatorConfig is the
// default.
func NewEstimator(cfg EstimatorConfig) (*Estimator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Estimator{cfg: cfg, samples: make([]Sample, 0, 8)}, nil
}

// Add records a sample and reports whether the level changed. A sample
// older than the newest one added is ignored; one with a non-finite number
// counts as inactive.
func (e *Estimator) Add(s Sample) (changed bool) {
	if n := len(e.samples); n > 0 && s.At.Before(e.samples[n-1].At) {
		return false
	}
	if !s.valid() {
		s = Sample{At: s.At}
	}
	// Drop what left the window, then append (reusing the array).
	cut := 0
	for cut < len(e.samples) && !e.samples[cut].At.After(s.At.Add(-e.cfg.Window)) {
		cut++
	}
	if cut > 0 {
		e.samples = append(e.samples[:0], e.samples[cut:]...)
	}
	e.samples = append(e.samples, s)

	q, ok := e.windowed()
	if !ok {
		return false
	}
	e.mos = q.MOS
	prev := e.level
	e.level = e.next(q.MOS, s.At)
	q.Level = e.level
	e.quality = q.rounded()
	return e.level != prev
}

// windowed averages the window's active samples and scores them; false
// when none is active.
func (e *Estimator) windowed() (Quality, bool) {
	var w, loss, jitter, lw, rtt float64
	var rtts int
	for _, s := range e.samples {
		if !s.Active {
			continue
		}
		sw := s.weight()
		w += sw
		loss += sw * s.LossPercent
		jitter += sw * s.JitterMs
		lw += sw * s.lossWeight()
		if s.RTTMs > 0 {
			rtt += s.RTTMs
			rtts++
		}
	}
	if w == 0 {
		return Quality{}, false
	}
	q := Quality{LossPercent: loss / w, JitterMs: jitter / w}
	if rtts > 0 {
		q.RTTMs = rtt / float64(rtts)
	}
	q.MOS = Score(q.RTTMs, q.JitterMs, q.LossPercent, lw/w)
	return q, true
}

// next applies the hysteresis rule to the windowed mos at time at.
func (e *Estimator) next(mos float64, at time.Time) Level {
	cur, plain := e.level, LevelOf(mos)
	if cur == LevelUnknown || plain == cur {
		e.pendingSince = time.Time{}
		return plain
	}
	if to := Hysteresis(cur, mos, e.cfg.Margin); to != cur {
		e.pendingSince = time.Time{}
		return to
	}
	up := plain > cur
	if e.pendingSince.IsZero() || e.pendingUp != up {
		e.pendingSince, e.pendingUp = at, up
	}
	if e.cfg.Hold >= 0 && at.Sub(e.pendingSince) >= e.cfg.Hold {
		e.pendingSince = time.Time{}
		return plain
	}
	return cur
}

// Hysteresis returns the level a windowed MOS moves a current level to
// when only crossings by more than margin count: up while the MOS exceeds
// the next level's threshold by more than margin, down while it is at
// least margin below the current level's threshold. With margin 0 it is
// LevelOf; from LevelUnknown it is LevelOf.
func Hysteresis(cur Level, mos, margin float64) Level {
	if cur == LevelUnknown || cur > LevelExcellent {
		return LevelOf(mos)
	}
	l := cur
	for l < LevelExcellent && mos > thresholds[l+1]+margin {
		l++
	}
	if l != cur {
		return l
	}
	for l > LevelBad && mos <= thresholds[l]-margin {
		l--
	}
	return l
}

// Level returns the current level; LevelUnknown until an active sample
// was scored.
func (e *Estimator) Level() Level { return e.level }

// MOS returns the windowed score the level was last decided on (not
// rounded); 0 until an active sample was scored.
func (e *Estimator) MOS() float64 { return e.mos }

// Quality returns the current level with the windowed score, loss, jitter
// and RTT it was decided on, rounded for display.
func (e *Estimator) Quality() Quality { return e.quality }

// Quality is one direction's level and the windowed figures behind it.
// The JSON names are those of the networkQuality message's uplink and
// downlink objects. Figures are rounded for display (MOS to 2 decimals,
// the others to 1); the level was decided on the unrounded ones.
type Quality struct {
	Level       Level   `json:"level"`
	MOS         float64 `json:"mos"`
	LossPercent float64 `json:"loss"`
	JitterMs    float64 `json:"jitterMs"`
	RTTMs       float64 `json:"rttMs"`
}

func (q Quality) rounded() Quality {
	q.MOS = math.Round(q.MOS*100) / 100
	q.LossPercent = math.Round(q.LossPercent*10) / 10
	q.JitterMs = math.Round(q.JitterMs*10) / 10
	q.RTTMs = math.Round(q.RTTMs*10) / 10
	return q
}
