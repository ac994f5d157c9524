package recording

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/clocktest"
)

// Two participants: one sends a 1 kHz tone for 5 s from the start, the
// other a 440 Hz tone for 3 s from 2 s in, with packets lost. The
// composition lasts 5 s; the first two seconds hold 1 kHz alone, the rest
// both tones.
func TestComposition(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	rec, st := newTestRecorder(t, Config{Clock: clk})
	ctx := context.Background()
	a, err := rec.Start(ctx, Target{Account: "acct", SessionID: "s-1"}, Decision{Type: TypeAudio, Composition: true})
	if err != nil {
		t.Fatal(err)
	}
	ta, _ := a.StartTrack(ctx, TrackInfo{ParticipantID: "a", Kind: KindAudio, Codec: opusCodec})
	tb, _ := a.StartTrack(ctx, TrackInfo{ParticipantID: "b", Kind: KindAudio, Codec: opusCodec})
	sendAudio(t, ta, tone(t, 250, 1000), 0, 12345, nil)
	waitFor(t, "a's writer", func() bool { return len(ta.queue) == 0 })
	waitFor(t, "a's file", func() bool { l, _ := st.List(ctx, Filter{Account: "acct"}); return len(l) == 1 })
	clk.Advance(2 * time.Second)
	sendAudio(t, tb, tone(t, 150, 440), 100, 999, func(i int) bool { return i == 50 || i == 51 })
	recs, err := a.Stop(ctx)
	if err != nil || len(recs) != 3 {
		t.Fatalf("%+v %v", recs, err)
	}
	comp := recs[2]
	if !comp.Composition || comp.Status != StatusCompleted || comp.Format != FormatOgg || comp.ParticipantID != "" || comp.SessionID != "s-1" {
		t.Fatalf("%+v", comp)
	}
	if d := comp.DurationMs - 5000; d < -100 || d > 100 {
		t.Fatalf("composition lasts %d ms, the call 5000", comp.DurationMs)
	}
	path := mediaPath(st, comp)
	checkPlayable(t, path)
	if d := probeDuration(t, path); d < 4.9 || d > 5.1 {
		t.Fatalf("ffprobe: %.3f s", d)
	}
	pcm := decodeWithFFmpeg(t, path)
	if n := len(pcm); n < 4.9*48000 || n > 5.1*48000 {
		t.Fatalf("%d samples", n)
	}
	first, rest := pcm[10000:90000], pcm[110000:230000]
	if g := goertzel(first, 1000); g < 0.5 {
		t.Fatalf("1 kHz in the first 2 s: %.3f", g)
	}
	if g := goertzel(first, 440); g > 0.01 {
		t.Fatalf("440 Hz before the second party starts: %.3f", g)
	}
	g1, g4 := goertzel(rest, 1000), goertzel(rest, 440)
	if g1 < 0.2 || g4 < 0.2 || goertzel(rest, 700) > 0.01 {
		t.Fatalf("after 2 s: 1 kHz %.3f, 440 Hz %.3f, 700 Hz %.3f", g1, g4, goertzel(rest, 700))
	}
	// The second party starts at 2 s, to within 20 ms.
	if before, after := goertzel(pcm[86000:95000], 440), goertzel(pcm[97000:106000], 440); before > 0.02 || after < 0.2 {
		t.Fatalf("440 Hz just before 2 s %.3f, just after %.3f", before, after)
	}
	t.Logf("1 kHz share: %.2f alone, %.2f mixed; 440 Hz share %.2f", goertzel(first, 1000), g1, g4)
}

// silkTone returns n 20 ms packets of a tone encoded by libopus (through
// ffmpeg) at a voice bitrate, where it codes SILK.
func silkTone(t *testing.T, n int, freq int) [][]byte {
	t.Helper()
	requireFFmpeg(t)
	path := filepath.Join(t.TempDir(), "silk.ogg")
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=frequency="+strconv.Itoa(freq)+":sample_rate=48000",
		"-t", strconv.FormatFloat(float64(n)*0.02, 'f', 2, 64), "-ac", "1", "-c:a", "libopus", "-application", "voip", "-b:a", "12k", "-frame_duration", "20", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	var pkts [][]byte
	for _, p := range readOggFile(t, path)[2:] {
		pkts = append(pkts, p.packets...)
	}
	silk := 0
	for _, p := range pkts {
		if p[0]>>3 < 12 {
			silk++
		}
	}
	if silk < len(pkts)/2 {
		t.Fatalf("%d of %d packets are SILK", silk, len(pkts))
	}
	return pkts
}

// A party whose browser codes SILK (voice bitrates) is mixed as well.
func TestCompositionDecodesSILK(t *testing.T) {
	rec, st := newTestRecorder(t, Config{})
	ctx := context.Background()
	a, _ := rec.Start(ctx, Target{Account: "acct", CallID: "c"}, Decision{Type: TypeAudio, Composition: true})
	tr, _ := a.StartTrack(ctx, TrackInfo{ParticipantID: "a", Kind: KindAudio, Codec: opusCodec})
	pkts := silkTone(t, 150, 1000)
	sendAudio(t, tr, pkts, 0, 0, nil)
	recs, err := a.Stop(ctx)
	if err != nil || len(recs) != 2 {
		t.Fatalf("%+v %v", recs, err)
	}
	for _, r := range recs {
		checkPlayable(t, mediaPath(st, r))
	}
	pcm := decodeWithFFmpeg(t, mediaPath(st, recs[1]))
	if g := goertzel(pcm[24000:120000], 1000); g < 0.5 {
		t.Fatalf("1 kHz share in the mix of a SILK party: %.3f", g)
	}
}

// Everything a recording starts ends with it.
func TestNoGoroutineLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	st, _ := NewFileStorage(t.TempDir())
	rec, _ := New(Config{Storage: st})
	ctx := context.Background()
	a, _ := rec.Start(ctx, Target{Account: "acct", CallID: "c"}, Decision{Type: TypeAudioAndVideo, Composition: true})
	at, _ := a.StartTrack(ctx, TrackInfo{ParticipantID: "a", Kind: KindAudio, Codec: opusCodec})
	_, _ = a.StartTrack(ctx, TrackInfo{ParticipantID: "a", Kind: KindVideo, Codec: vp8Codec})
	bt, _ := a.StartTrack(ctx, TrackInfo{ParticipantID: "b", Kind: KindAudio, Codec: opusCodec})
	sendAudio(t, at, tone(t, 20, 440), 0, 0, nil)
	sendAudio(t, bt, tone(t, 20, 440), 0, 0, nil)
	if recs, err := a.Stop(ctx); err != nil || len(recs) != 3 {
		t.Fatalf("%+v %v", recs, err)
	}
	_ = rec.Close(ctx)
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}
