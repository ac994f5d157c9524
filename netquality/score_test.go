package netquality

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

// The formula against values computed by hand (each case's working is in
// its comment; MOS = 1 + 0.035R + 7e-6·R(R−60)(100−R)).
func TestScore(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		rtt, jitter, loss, w float64
		want                 float64
		level                Level
	}{
		// Le = 100 + 2·20 + 10 = 150 < 160 → R = 93.2 − 150/40 = 89.45;
		// R −= 2.5·2·1 = 5 → 84.45. 0.035·84.45 = 2.95575;
		// 84.45·24.45·15.55 = 32107.678875, ·7e-6 = 0.224753752.
		// MOS = 4.180503752 → 4.18, GOOD.
		{"rtt 100 jitter 20 loss 2% opus", 100, 20, 2, WeightOpus, 4.180503752, LevelGood},
		// The same with G.711: R = 89.45 − 2.5·2·2 = 79.45. 0.035·79.45 =
		// 2.78075; 79.45·19.45·20.55 = 31755.966375, ·7e-6 = 0.222291765.
		// MOS = 4.003041765 → 4.00, FAIR.
		{"rtt 100 jitter 20 loss 2% g711", 100, 20, 2, WeightG711, 4.003041765, LevelFair},
		// An unknown codec (weight 0) weighs as G.711.
		{"rtt 100 jitter 20 loss 2% unknown", 100, 20, 2, 0, 4.003041765, LevelFair},
		// A perfect path: Le = 10 → R = 93.2 − 0.25 = 92.95. 0.035·92.95 =
		// 3.25325; 92.95·32.95·7.05 = 21592.052625, ·7e-6 = 0.151144368.
		// MOS = 4.404394368 → 4.40, EXCELLENT (the best the model gives).
		{"perfect", 0, 0, 0, WeightOpus, 4.404394368, LevelExcellent},
		// Le = 300 + 60 + 10 = 370 ≥ 160 → R = 93.2 − (370 − 120)/10 =
		// 68.2. 0.035·68.2 = 2.387; 68.2·8.2·31.8 = 17783.832, ·7e-6 =
		// 0.124486824. MOS = 3.511486824 → 3.51, POOR.
		{"rtt 300 jitter 30", 300, 30, 0, WeightOpus, 3.511486824, LevelPoor},
		// Le = 200: the second branch, R = 93.2 − 8 = 85.2 (the first
		// would give 88.2). 0.035·85.2 = 2.982; 85.2·25.2·14.8 =
		// 31776.192, ·7e-6 = 0.222433344. MOS = 4.204433344 → 4.20, GOOD.
		{"Le 200", 190, 0, 0, WeightOpus, 4.204433344, LevelGood},
		// Le = 160 exactly takes the second branch, where both agree:
		// R = 89.2. 0.035·89.2 = 3.122; 89.2·29.2·10.8 = 28130.112,
		// ·7e-6 = 0.196910784. MOS = 4.318910784 → 4.32, GOOD.
		{"Le 160", 150, 0, 0, WeightOpus, 4.318910784, LevelGood},
		// 10 % loss with Opus on a perfect path: R = 92.95 − 25 = 67.95.
		// 0.035·67.95 = 2.37825; 67.95·7.95·32.05 = 17313.490125, ·7e-6 =
		// 0.121194431. MOS = 3.499444431 → 3.50, POOR.
		{"10% loss opus", 0, 0, 10, WeightOpus, 3.499444431, LevelPoor},
		// R < 0: 40 % loss with Opus, R = 92.95 − 100 = −7.05 → MOS 1.
		{"R below 0", 0, 0, 40, WeightOpus, 1, LevelBad},
		// The cubic dips below 1 for small R: G.711, R = 92.95 − 5·17.99 =
		// 3.0 gives 1 + 0.105 − 7e-6·3·57·97 = 0.988891, clamped to 1.
		{"clamped at 1", 0, 0, 17.99, WeightG711, 1, LevelBad},
		// Out-of-range inputs: negative counts as 0, loss above 100 as 100.
		{"negative inputs", -5, -1, -3, WeightOpus, 4.404394368, LevelExcellent},
		{"loss above 100", 0, 0, 250, WeightOpus, 1, LevelBad},
		{"NaN", math.NaN(), 0, 0, WeightOpus, 1, LevelBad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Score(tc.rtt, tc.jitter, tc.loss, tc.w)
			if math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("Score = %.9f, want %.9f", got, tc.want)
			}
			if l := LevelOf(got); l != tc.level {
				t.Errorf("LevelOf(%.4f) = %v, want %v", got, l, tc.level)
			}
		})
	}
}

// The score never leaves [1, 4.5] and never rises with worse inputs.
func TestScoreBoundsAndMonotony(t *testing.T) {
	prev := 5.0
	for loss := 0.0; loss <= 100; loss += 0.25 {
		m := Score(0, 0, loss, WeightG711)
		if m < 1 || m > 4.5 {
			t.Fatalf("Score(loss %v) = %v, outside [1, 4.5]", loss, m)
		}
		if m > prev+1e-12 {
			t.Fatalf("Score rose from %v to %v at loss %v", prev, m, loss)
		}
		prev = m
	}
	prev = 5.0
	for rtt := 0.0; rtt <= 2000; rtt += 5 {
		m := Score(rtt, 0, 0, WeightOpus)
		if m > prev+1e-12 {
			t.Fatalf("Score rose from %v to %v at rtt %v", prev, m, rtt)
		}
		prev = m
	}
}

// Each threshold, at it (the lower level) and just past it.
func TestLevelOfThresholds(t *testing.T) {
	for _, tc := range []struct {
		at          float64
		below, past Level
	}{
		{4.34, LevelGood, LevelExcellent},
		{4.03, LevelFair, LevelGood},
		{3.6, LevelPoor, LevelFair},
		{3.1, LevelBad, LevelPoor},
	} {
		if got := LevelOf(tc.at); got != tc.below {
			t.Errorf("LevelOf(%v) = %v, want %v", tc.at, got, tc.below)
		}
		if got := LevelOf(tc.at + 1e-9); got != tc.past {
			t.Errorf("LevelOf(%v + 1e-9) = %v, want %v", tc.at, got, tc.past)
		}
	}
	if LevelOf(1) != LevelBad || LevelOf(4.5) != LevelExcellent {
		t.Error("the ends of the scale")
	}
	for l := LevelPoor; l <= LevelExcellent; l++ {
		if th, ok := Threshold(l); !ok || LevelOf(th) != l-1 || LevelOf(th+1e-9) != l {
			t.Errorf("Threshold(%v) = %v, %v", l, th, ok)
		}
	}
	if _, ok := Threshold(LevelBad); ok {
		t.Error("BAD has no threshold")
	}
}

func TestLevelText(t *testing.T) {
	b, err := json.Marshal(map[string]Level{"a": LevelExcellent, "b": LevelBad, "c": LevelUnknown})
	if err != nil || string(b) != `{"a":"EXCELLENT","b":"BAD","c":"UNKNOWN"}` {
		t.Fatalf("%s %v", b, err)
	}
	var l Level
	if err := json.Unmarshal([]byte(`"fair"`), &l); err != nil || l != LevelFair {
		t.Fatalf("%v %v", l, err)
	}
	var le *LevelError
	if err := l.UnmarshalText([]byte("SUPERB")); !errors.As(err, &le) || le.Name != "SUPERB" {
		t.Fatalf("%v", err)
	}
	if Level(9).String() != "UNKNOWN" {
		t.Error("an out-of-range level")
	}
}

func TestCodecWeight(t *testing.T) {
	for mime, want := range map[string]float64{
		"audio/opus": 1, "audio/OPUS": 1, "audio/PCMU": 2, "audio/pcma": 2, "audio/G722": 2, "video/VP8": 2, "": 2,
	} {
		if got := CodecWeight(mime); got != want {
			t.Errorf("CodecWeight(%q) = %v, want %v", mime, got, want)
		}
	}
}
