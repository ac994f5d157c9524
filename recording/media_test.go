package recording

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/tphakala/go-opus/opus"
)

// requireFFmpeg skips the test when ffmpeg and ffprobe are missing, unless
// SWITCHBOARD_REQUIRE_FFMPEG=1 (as in CI), where it fails.
func requireFFmpeg(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("SWITCHBOARD_REQUIRE_FFMPEG") == "1" {
				t.Fatalf("%s is required (SWITCHBOARD_REQUIRE_FFMPEG=1) but not found: %v", tool, err)
			}
			t.Skipf("%s not found: this test checks files with a third-party decoder (apt-get install ffmpeg; CI sets SWITCHBOARD_REQUIRE_FFMPEG=1)", tool)
		}
	}
}

// checkPlayable fails unless ffprobe and ffmpeg (with libopus for Opus)
// read the whole file without a word.
func checkPlayable(t testing.TB, path string) {
	t.Helper()
	requireFFmpeg(t)
	for _, args := range [][]string{
		{"ffprobe", "-v", "error", path},
		{"ffmpeg", "-nostdin", "-v", "error", "-c:a", "libopus", "-i", path, "-f", "null", "-"},
	} {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Fatalf("%s on %s: %v\n%s", args[0], path, err, out)
		}
	}
}

// probeDuration returns the duration ffprobe reports for the file, in seconds.
func probeDuration(t testing.TB, path string) float64 {
	t.Helper()
	requireFFmpeg(t)
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v %s", err, out)
	}
	d, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatalf("ffprobe duration %q: %v", out, err)
	}
	return d
}

// decodeWithFFmpeg decodes the file's audio with libopus to 48 kHz mono
// 16-bit samples.
func decodeWithFFmpeg(t testing.TB, path string) []int16 {
	t.Helper()
	requireFFmpeg(t)
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-c:a", "libopus", "-i", path, "-map", "0:a", "-ac", "1", "-ar", "48000", "-f", "s16le", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg decode: %v", err)
	}
	pcm := make([]int16, len(out)/2)
	for i := range pcm {
		pcm[i] = int16(uint16(out[2*i]) | uint16(out[2*i+1])<<8)
	}
	return pcm
}

// tone returns n 20 ms Opus packets (mono, CELT, 48 kHz) of a sine at freq
// Hz (0 for silence), encoded with go-opus.
func tone(t testing.TB, n int, freq float64) [][]byte {
	t.Helper()
	enc, err := opus.NewEncoder(opus.EncoderConfig{SampleRate: 48000, Channels: 1, Bitrate: 32000})
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 960)
	buf := make([]byte, 1500)
	out := make([][]byte, n)
	for i := range n {
		for j := range pcm {
			pcm[j] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i*960+j)/48000))
		}
		m, err := enc.Encode(pcm, buf)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = append([]byte(nil), buf[:m]...)
	}
	return out
}

// goertzel returns the power of freq in x (sample rate 48 kHz), relative
// to the signal's total power: near 1 for a pure tone at freq.
func goertzel(x []int16, freq float64) float64 {
	if len(x) == 0 {
		return 0
	}
	w := 2 * math.Pi * freq / 48000
	c := 2 * math.Cos(w)
	var s1, s2, energy float64
	for _, v := range x {
		f := float64(v)
		s := f + c*s1 - s2
		s2, s1 = s1, s
		energy += f * f
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	if energy == 0 {
		return 0
	}
	return p / (energy * float64(len(x)) / 2)
}

// readOggFile returns every page of an Ogg file.
func readOggFile(t testing.TB, path string) []*oggPage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := newOggReader(f)
	var pages []*oggPage
	for {
		p, err := r.next()
		if err != nil {
			if err.Error() == "EOF" {
				return pages
			}
			t.Fatalf("page %d: %v", len(pages), err)
		}
		pages = append(pages, p)
	}
}

// isConcealment reports whether p is a packet whose frames are all empty.
func isConcealment(p []byte) bool {
	switch {
	case len(p) == 1:
		return p[0]&3 == 0
	case len(p) == 2:
		return p[0]&3 == 3 && p[1]&0xC0 == 0
	}
	return false
}
