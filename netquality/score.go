package netquality

import (
	"math"
	"strings"
)

// Level is a quality level, from BAD to EXCELLENT. The zero value,
// LevelUnknown, is the level of a direction that has not been scored yet
// (nothing was sent or reported). Levels are ordered: a greater Level is a
// better one, so the worse of two is min(a, b) among known levels.
type Level uint8

// The levels and the MOS above which each begins.
const (
	LevelUnknown   Level = iota // not scored yet
	LevelBad                    // MOS ≤ 3.1
	LevelPoor                   // MOS > 3.1
	LevelFair                   // MOS > 3.6
	LevelGood                   // MOS > 4.03
	LevelExcellent              // MOS > 4.34
)

// thresholds[l] is the MOS a score must exceed to reach level l (for the
// levels above BAD).
var thresholds = [...]float64{
	LevelPoor:      3.1,
	LevelFair:      3.6,
	LevelGood:      4.03,
	LevelExcellent: 4.34,
}

// Threshold returns the MOS a score must exceed to reach l, and false for
// LevelUnknown and LevelBad (which have no lower bound).
func Threshold(l Level) (float64, bool) {
	if l <= LevelBad || l > LevelExcellent {
		return 0, false
	}
	return thresholds[l], true
}

var levelNames = [...]string{"UNKNOWN", "BAD", "POOR", "FAIR", "GOOD", "EXCELLENT"}

// String returns the level's wire name: "EXCELLENT", "GOOD", "FAIR",
// "POOR", "BAD" or "UNKNOWN".
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "UNKNOWN"
}

// MarshalText encodes the level as its wire name, so a Level marshals to
// JSON as "GOOD".
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText decodes a wire name (case-insensitive).
func (l *Level) UnmarshalText(b []byte) error {
	for i, n := range levelNames {
		if strings.EqualFold(n, string(b)) {
			*l = Level(i)
			return nil
		}
	}
	return &LevelError{Name: string(b)}
}

// LevelOf returns the level of a MOS: EXCELLENT above 4.34, GOOD above
// 4.03, FAIR above 3.6, POOR above 3.1, else BAD. It has no hysteresis;
// an Estimator adds it.
func LevelOf(mos float64) Level {
	for l := LevelExcellent; l > LevelBad; l-- {
		if mos > thresholds[l] {
			return l
		}
	}
	return LevelBad
}

// Codec loss weights: how much a percent of packet loss costs the score.
// Opus conceals loss well; G.711 and codecs the model does not know cost
// twice as much.
const (
	WeightOpus    = 1.0
	WeightG711    = 2.0
	WeightUnknown = 2.0
)

// CodecWeight returns the loss weight of a codec given its MIME type
// ("audio/opus" → 1; "audio/PCMU", "audio/PCMA" and anything else → 2).
func CodecWeight(mimeType string) float64 {
	switch {
	case strings.EqualFold(mimeType, "audio/opus"):
		return WeightOpus
	case strings.EqualFold(mimeType, "audio/pcmu"), strings.EqualFold(mimeType, "audio/pcma"):
		return WeightG711
	}
	return WeightUnknown
}

// Score returns the mean opinion score (MOS, 1 to 4.5) of a voice path by
// the simplified E-model:
//
//	Le  = rtt + 2·jitter + 10                 (ms)
//	R   = 93.2 − Le/40          if Le < 160
//	R   = 93.2 − (Le − 120)/10  otherwise
//	R  −= 2.5 · loss% · weight
//	MOS = 1 if R < 0, else 1 + 0.035·R + 7·10⁻⁶·R·(R − 60)·(100 − R)
//
// weight is the codec's loss weight (CodecWeight; 0 or less counts as
// WeightUnknown). Negative inputs count as 0 and loss above 100 % as 100 %.
// The cubic dips just below 1 for R between 0 and about 6.5 (to 0.989 at
// R ≈ 3): the result is clamped to [1, 4.5]. The upper bound is never
// reached, since R is at most 92.95 (MOS 4.40).
func Score(rttMs, jitterMs, lossPercent, weight float64) float64 {
	rttMs, jitterMs = math.Max(rttMs, 0), math.Max(jitterMs, 0)
	lossPercent = math.Min(math.Max(lossPercent, 0), 100)
	if !(weight > 0) {
		weight = WeightUnknown
	}
	le := rttMs + 2*jitterMs + 10
	var r float64
	if le < 160 {
		r = 93.2 - le/40
	} else {
		r = 93.2 - (le-120)/10
	}
	r -= 2.5 * lossPercent * weight
	if r < 0 || math.IsNaN(r) {
		return 1
	}
	mos := 1 + 0.035*r + 7e-6*r*(r-60)*(100-r)
	return math.Min(math.Max(mos, 1), 4.5)
}
