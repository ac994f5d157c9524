package recording

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/switchboard-rtc/switchboard/internal/clocktest"
)

// vp8Frames makes n frames of VP8 (30 per second, a keyframe every 30)
// with ffmpeg's libvpx, read from an IVF file.
func vp8Frames(t *testing.T, n int) [][]byte {
	t.Helper()
	requireFFmpeg(t)
	path := filepath.Join(t.TempDir(), "v.ivf")
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30",
		"-frames:v", strconv.Itoa(n), "-c:v", "libvpx", "-g", "30", "-keyint_min", "30", "-b:v", "400k", "-auto-alt-ref", "0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	b, _ := os.ReadFile(path)
	if len(b) < 32 || string(b[:4]) != "DKIF" {
		t.Fatal("not an IVF file")
	}
	var frames [][]byte
	for off := int(binary.LittleEndian.Uint16(b[6:])); off+12 <= len(b); {
		size := int(binary.LittleEndian.Uint32(b[off:]))
		frames = append(frames, b[off+12:off+12+size])
		off += 12 + size
	}
	if len(frames) != n {
		t.Fatalf("%d frames", len(frames))
	}
	return frames
}

// vp8Packets splits frames into RTP payloads (1200 bytes at most), the
// last of each frame marked.
type rtpPacket struct {
	h       rtp.Header
	payload []byte
}

func vp8Packets(frames [][]byte, seq0 uint16) []rtpPacket {
	var out []rtpPacket
	pay := &codecs.VP8Payloader{}
	seq := seq0
	for i, f := range frames {
		ps := pay.Payload(1200, f)
		for j, p := range ps {
			out = append(out, rtpPacket{h: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(i * 3000), Marker: j == len(ps)-1, SSRC: 9}, payload: p})
			seq++
		}
	}
	return out
}

// Five seconds of a participant's audio and video into WebM: every Opus
// packet and every VP8 frame is in the file byte for byte, keyframes
// flagged; a frame that lost a packet is dropped with the frames after it
// until the next keyframe (which is asked for); ffmpeg plays it all.
func TestWebMAudioVideo(t *testing.T) {
	frames := vp8Frames(t, 150)
	clk := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	rec, st := newTestRecorder(t, Config{Clock: clk, QueueSize: 8192})
	ctx := context.Background()
	a, err := rec.Start(ctx, Target{Account: "acct", SessionID: "s-1"}, Decision{Type: TypeAudioAndVideo})
	if err != nil {
		t.Fatal(err)
	}
	var keyframes atomic.Int32
	at, err := a.StartTrack(ctx, TrackInfo{ParticipantID: "p", Identity: "alice", Kind: KindAudio, Codec: opusCodec})
	if err != nil {
		t.Fatal(err)
	}
	vt, err := a.StartTrack(ctx, TrackInfo{ParticipantID: "p", Identity: "alice", Kind: KindVideo, Codec: vp8Codec, RequestKeyframe: func() { keyframes.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if keyframes.Load() != 1 {
		t.Fatal("a keyframe is asked for when video starts")
	}
	audio := tone(t, 250, 1000)
	vps := vp8Packets(frames, 100)
	lostSeq := -1
	for i, p := range vps { // one packet of frame 40 (not a keyframe) is lost
		if p.h.Timestamp == 40*3000 {
			lostSeq = i
			break
		}
	}
	// Interleave as they would arrive: 20 ms of audio, the video frames due by then.
	vi := 0
	for i := range 250 {
		sendAudio(t, at, audio[i:i+1], uint16(i), uint32(i*960), nil)
		for vi < len(vps) && int64(vps[vi].h.Timestamp)/90 <= int64(i*20) {
			if vi != lostSeq {
				if err := vt.WriteRTP(&vps[vi].h, vps[vi].payload); err != nil {
					t.Fatal(err)
				}
			}
			vi++
		}
	}
	for ; vi < len(vps); vi++ {
		_ = vt.WriteRTP(&vps[vi].h, vps[vi].payload)
	}
	recs, err := a.Stop(ctx)
	if err != nil || len(recs) != 1 {
		t.Fatalf("%v %v", recs, err)
	}
	r := recs[0]
	if r.Format != FormatWebM || r.Type != TypeAudioAndVideo || r.Status != StatusCompleted || r.DurationMs != 5000 || r.LostPackets != 1 {
		t.Fatalf("%+v", r)
	}
	if keyframes.Load() < 2 {
		t.Fatal("no keyframe asked for after the loss")
	}
	path := mediaPath(st, r)
	checkPlayable(t, path)
	if d := probeDuration(t, path); d < 4.9 || d > 5.1 {
		t.Fatalf("ffprobe duration %.3f", d)
	}
	out, _ := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", path).Output()
	if got := strings.Fields(string(out)); strings.Join(got, ",") != "opus,vp8" {
		t.Fatalf("streams %q", out)
	}
	// Read the blocks back.
	f, _ := os.Open(path)
	fi, _ := f.Stat()
	var gotAudio [][]byte
	var gotVideo []webmBlock
	last := int64(-1)
	s, err := scanWebM(f, fi.Size(), func(b webmBlock) {
		if b.ms < last {
			t.Errorf("block at %d ms after one at %d", b.ms, last)
		}
		last = b.ms
		if b.track == webmAudioTrack {
			gotAudio = append(gotAudio, bytes.Clone(b.data))
		} else {
			b.data = bytes.Clone(b.data)
			gotVideo = append(gotVideo, b)
		}
	})
	f.Close()
	if err != nil || s.lastEnd != fi.Size() {
		t.Fatalf("scan: %v, %d of %d bytes", err, s.lastEnd, fi.Size())
	}
	if len(gotAudio) != 250 {
		t.Fatalf("%d audio blocks", len(gotAudio))
	}
	for i := range gotAudio {
		if !bytes.Equal(gotAudio[i], audio[i]) {
			t.Fatalf("audio block %d differs", i)
		}
	}
	var want []int // frames 40..59 are gone: 40 lost a packet, 41..59 depend on it
	for i := range 150 {
		if i < 40 || i >= 60 {
			want = append(want, i)
		}
	}
	if len(gotVideo) != len(want) {
		t.Fatalf("%d video blocks, want %d", len(gotVideo), len(want))
	}
	for k, i := range want {
		b := gotVideo[k]
		if !bytes.Equal(b.data, frames[i]) || b.key != (i%30 == 0) || b.ms != int64(i)*100/3 {
			t.Fatalf("video block %d (frame %d): key %v at %d ms, equal %v", k, i, b.key, b.ms, bytes.Equal(b.data, frames[i]))
		}
	}
}

// H.264 video is not recorded: the participant's WebM holds the audio, its
// metadata says why there is no video, and the file still plays.
func TestWebMH264NotRecorded(t *testing.T) {
	rec, st := newTestRecorder(t, Config{})
	ctx := context.Background()
	a, _ := rec.Start(ctx, Target{Account: "acct", CallID: "c"}, Decision{Type: TypeAudioAndVideo})
	at, _ := a.StartTrack(ctx, TrackInfo{ParticipantID: "p", Kind: KindAudio, Codec: opusCodec})
	h264 := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}}
	if _, err := a.StartTrack(ctx, TrackInfo{ParticipantID: "p", Kind: KindVideo, Codec: h264}); !errors.Is(err, ErrUnsupportedCodec) {
		t.Fatalf("H.264: %v", err)
	}
	sendAudio(t, at, tone(t, 100, 440), 0, 0, nil)
	recs, _ := a.Stop(ctx)
	if len(recs) != 1 || len(recs[0].Unsupported) != 1 || !strings.HasPrefix(recs[0].Unsupported[0], "video/h264") || recs[0].DurationMs != 2000 {
		t.Fatalf("%+v", recs)
	}
	checkPlayable(t, mediaPath(st, recs[0]))
}

// A WebM file cut in the middle of a block by a crash is repaired on Open:
// cut after the last whole block, given its Duration, marked interrupted.
func TestWebMInterruptedIsRepaired(t *testing.T) {
	frames := vp8Frames(t, 90)
	clk := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	rec, st := newTestRecorder(t, Config{Clock: clk, QueueSize: 8192})
	ctx := context.Background()
	a, _ := rec.Start(ctx, Target{Account: "acct", CallID: "c"}, Decision{Type: TypeAudioAndVideo})
	at, _ := a.StartTrack(ctx, TrackInfo{ParticipantID: "p", Kind: KindAudio, Codec: opusCodec})
	vt, _ := a.StartTrack(ctx, TrackInfo{ParticipantID: "p", Kind: KindVideo, Codec: vp8Codec})
	sendAudio(t, at, tone(t, 150, 440), 0, 0, nil)
	for _, p := range vp8Packets(frames, 0) {
		_ = vt.WriteRTP(&p.h, p.payload)
	}
	waitFor(t, "the writers", func() bool { return len(at.queue) == 0 && len(vt.queue) == 0 })
	list, _ := st.List(ctx, Filter{Account: "acct"})
	waitFor(t, "the flush timers", func() bool { return clk.Pending() >= 2 })
	path := mediaPath(st, list[0])
	sizeBefore := fileSize(path)
	clk.Advance(time.Second)
	waitFor(t, "the flush", func() bool { return fileSize(path) > sizeBefore })
	// What a crash leaves: the bytes on disk now, less a few (a block cut short).
	crashed, _ := os.ReadFile(path)
	crashed = crashed[:len(crashed)-7]
	meta, _ := os.ReadFile(filepath.Join(st.Dir(), list[0].ID+".json"))
	_, _ = a.Stop(ctx)

	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, list[0].ID+".webm"), crashed, 0o644)
	_ = os.WriteFile(filepath.Join(dir, list[0].ID+".json"), meta, 0o644)
	st2, _ := NewFileStorage(dir)
	rec2, _ := New(Config{Storage: st2})
	fixed, err := rec2.Open(ctx)
	if err != nil || len(fixed) != 1 {
		t.Fatalf("%v %v", fixed, err)
	}
	r := fixed[0]
	if r.Status != StatusInterrupted || r.DurationMs < 2000 || r.DurationMs > 3000 || r.Bytes >= int64(len(crashed)) {
		t.Fatalf("%+v (file was %d bytes)", r, len(crashed))
	}
	p2 := filepath.Join(dir, r.ID+".webm")
	checkPlayable(t, p2)
	if d := probeDuration(t, p2); d*1000 < float64(r.DurationMs)-100 || d*1000 > float64(r.DurationMs)+100 {
		t.Fatalf("ffprobe %.3f s, metadata %d ms", d, r.DurationMs)
	}
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
