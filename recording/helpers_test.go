package recording

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

var opusCodec = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}
var vp8Codec = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}

// newTestRecorder returns a recorder on a FileStorage in a temporary folder.
func newTestRecorder(t testing.TB, cfg Config) (*Recorder, *FileStorage) {
	t.Helper()
	st, err := NewFileStorage(filepath.Join(t.TempDir(), "rec"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage == nil {
		cfg.Storage = st
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r, st
}

// sendAudio writes packets as RTP (20 ms apart) from seq0, skipping the
// indexes in skip.
func sendAudio(t testing.TB, tr *TrackRecorder, pkts [][]byte, seq0 uint16, ts0 uint32, skip func(i int) bool) {
	t.Helper()
	for i, p := range pkts {
		if skip != nil && skip(i) {
			continue
		}
		h := &rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq0 + uint16(i), Timestamp: ts0 + uint32(i*960), SSRC: 1}
		if err := tr.WriteRTP(h, p); err != nil {
			t.Fatal(err)
		}
	}
}

// mediaPath returns the path of a recording's file in st.
func mediaPath(st *FileStorage, r *Recording) string { return st.mediaPath(r) }

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
