package recording

import (
	"context"
	"os"
	"testing"
)

// Stats counts the recordings running and every byte written to their
// files: the participants' and the composition's.
func TestRecorderStats(t *testing.T) {
	rec, st := newTestRecorder(t, Config{})
	ctx := context.Background()
	if s := rec.Stats(); s != (Stats{}) {
		t.Fatalf("a new Recorder: %+v", s)
	}
	a, err := rec.Start(ctx, Target{Account: "acct", SessionID: "s-1"}, Decision{Type: TypeAudio, Composition: true})
	if err != nil {
		t.Fatal(err)
	}
	ta, _ := a.StartTrack(ctx, TrackInfo{ParticipantID: "a", Kind: KindAudio, Codec: opusCodec})
	tb, _ := a.StartTrack(ctx, TrackInfo{ParticipantID: "b", Kind: KindAudio, Codec: opusCodec})
	sendAudio(t, ta, tone(t, 100, 1000), 0, 1, nil)
	sendAudio(t, tb, tone(t, 100, 440), 0, 1, nil)
	if s := rec.Stats(); s.Active != 1 {
		t.Fatalf("while recording: %+v", s)
	}
	recs, err := a.Stop(ctx)
	if err != nil || len(recs) != 3 {
		t.Fatalf("%+v %v", recs, err)
	}
	var size uint64
	for _, r := range recs {
		fi, err := os.Stat(mediaPath(st, r))
		if err != nil {
			t.Fatal(err)
		}
		size += uint64(fi.Size())
	}
	s := rec.Stats()
	// Every byte of the files was written, a few of them twice (a page
	// rewritten when the file is finished).
	if s.Active != 0 || s.BytesWritten < size || s.BytesWritten > size+3*1024 {
		t.Fatalf("after stop: %+v; the three files hold %d bytes", s, size)
	}
}
