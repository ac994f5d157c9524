package recording

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/switchboard-rtc/switchboard/internal/clocktest"
)

var audioDecision = Decision{Type: TypeAudio}

// Five seconds of one participant's audio through a TrackRecorder, with
// packets lost on the way and two swapped: the Ogg file holds exactly the
// packets sent, in order; the gap is in the metadata and in time.
func TestTrackRecorderAudio(t *testing.T) {
	rec, st := newTestRecorder(t, Config{})
	ctx := context.Background()
	a, err := rec.Start(ctx, Target{Account: "acct", CallID: "c-1"}, audioDecision)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := a.StartTrack(ctx, TrackInfo{ParticipantID: "p-1", Identity: "alice", Kind: KindAudio, Codec: opusCodec})
	if err != nil {
		t.Fatal(err)
	}
	pkts := tone(t, 250, 1000)
	lost := func(i int) bool { return i >= 100 && i < 103 }
	// Packets 10 and 11 arrive swapped; the sequence wraps around.
	order := make([]int, 0, 250)
	for i := range 250 {
		order = append(order, i)
	}
	order[10], order[11] = 11, 10
	const seq0 = 65500
	for _, i := range order {
		if lost(i) {
			continue
		}
		h := &rtp.Header{Version: 2, SequenceNumber: seq0 + uint16(i), Timestamp: 4000000000 + uint32(i*960), SSRC: 7}
		if err := tr.WriteRTP(h, pkts[i]); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := a.Stop(ctx)
	if err != nil || len(recs) != 1 {
		t.Fatalf("stop: %v %v", recs, err)
	}
	r := recs[0]
	if r.Status != StatusCompleted || r.Format != FormatOgg || r.Type != TypeAudio || r.CallID != "c-1" || r.Identity != "alice" || r.ParticipantID != "p-1" {
		t.Fatalf("metadata %+v", r)
	}
	if r.DurationMs != 5000 || r.LostPackets != 3 || r.DroppedPackets != 0 || len(r.Gaps) != 1 {
		t.Fatalf("duration %d lost %d dropped %d gaps %+v", r.DurationMs, r.LostPackets, r.DroppedPackets, r.Gaps)
	}
	if g := r.Gaps[0]; g.Track != KindAudio || g.AtMs != 2000 || g.Packets != 3 || g.DurationMs != 60 || g.Reason != GapPacketLoss {
		t.Fatalf("gap %+v", g)
	}
	path := mediaPath(st, r)
	if fi, _ := os.Stat(path); fi == nil || fi.Size() != r.Bytes {
		t.Fatalf("bytes %d, file %v", r.Bytes, fi)
	}
	var got [][]byte
	for _, p := range readOggFile(t, path)[2:] {
		for _, pkt := range p.packets {
			if !isConcealment(pkt) {
				got = append(got, pkt)
			}
		}
	}
	var want [][]byte
	for i, p := range pkts {
		if !lost(i) {
			want = append(want, p)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d packets in the file, %d sent", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("packet %d differs", i)
		}
	}
	checkPlayable(t, path)
	// The stored metadata is what Stop returned.
	list, _ := st.List(ctx, Filter{Account: "acct"})
	if len(list) != 1 || list[0].Status != StatusCompleted || list[0].DurationMs != 5000 {
		t.Fatalf("stored %+v", list)
	}
	if err := tr.WriteRTP(&rtp.Header{}, pkts[0]); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after stop: %v", err)
	}
}

// blockingStorage holds Create until released, so a track's writer stalls.
type blockingStorage struct {
	Storage
	release chan struct{}
	entered chan struct{}
}

func (b *blockingStorage) Create(ctx context.Context, r *Recording) (MediaFile, error) {
	close(b.entered)
	<-b.release
	return b.Storage.Create(ctx, r)
}

// A writer that falls behind never blocks WriteRTP: packets past the
// queue are dropped and the recording notes a gap from queue overflow.
func TestTrackRecorderQueueOverflow(t *testing.T) {
	st, _ := NewFileStorage(t.TempDir())
	bs := &blockingStorage{Storage: st, release: make(chan struct{}), entered: make(chan struct{})}
	rec, _ := newTestRecorder(t, Config{Storage: bs, QueueSize: 8})
	ctx := context.Background()
	a, _ := rec.Start(ctx, Target{Account: "acct", SessionID: "s-1"}, audioDecision)
	tr, err := a.StartTrack(ctx, TrackInfo{ParticipantID: "p", Kind: KindAudio, Codec: opusCodec})
	if err != nil {
		t.Fatal(err)
	}
	pkts := tone(t, 40, 440)
	sendAudio(t, tr, pkts[:1], 0, 0, nil)
	<-bs.entered // the writer is stuck creating the file
	start := time.Now()
	sendAudio(t, tr, pkts[1:20], 1, 960, nil) // 8 fit in the queue, 11 are dropped
	if d := time.Since(start); d > time.Second {
		t.Fatalf("WriteRTP blocked for %v", d)
	}
	close(bs.release)
	// The rest arrive once the writer has caught up.
	waitFor(t, "the queue to drain", func() bool { return len(tr.queue) == 0 })
	for i := 20; i < 40; i++ {
		sendAudio(t, tr, pkts[i:i+1], uint16(i), uint32(i*960), nil)
		waitFor(t, "the queue to drain", func() bool { return len(tr.queue) == 0 })
	}
	recs, _ := a.Stop(ctx)
	r := recs[0]
	if r.DroppedPackets != 11 || r.LostPackets != 0 || len(r.Gaps) != 1 || r.Gaps[0].Reason != GapQueueOverflow || r.Gaps[0].Packets != 11 {
		t.Fatalf("dropped %d lost %d gaps %+v", r.DroppedPackets, r.LostPackets, r.Gaps)
	}
	if r.DurationMs != 800 {
		t.Fatalf("duration %d (the gap keeps its time)", r.DurationMs)
	}
	checkPlayable(t, mediaPath(st, r))
}

// Data reaches the disk within a flush interval even when packets stop
// coming: after the timer fires, the file holds every packet written.
func TestTrackRecorderFlushesOnTime(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	rec, st := newTestRecorder(t, Config{Clock: clk})
	ctx := context.Background()
	a, _ := rec.Start(ctx, Target{Account: "acct", CallID: "c"}, audioDecision)
	tr, _ := a.StartTrack(ctx, TrackInfo{ParticipantID: "p", Kind: KindAudio, Codec: opusCodec})
	pkts := tone(t, 50, 440)
	sendAudio(t, tr, pkts, 0, 0, nil)
	waitFor(t, "the writer", func() bool { return len(tr.queue) == 0 })
	list, _ := st.List(ctx, Filter{Account: "acct"})
	if len(list) != 1 {
		t.Fatalf("%d recordings", len(list))
	}
	path := mediaPath(st, list[0])
	countPackets := func() int {
		b, _ := os.ReadFile(path)
		r := newOggReader(bytes.NewReader(b))
		n := 0
		for {
			p, err := r.next()
			if err != nil {
				return n
			}
			if p.seq >= 2 {
				n += len(p.packets)
			}
		}
	}
	if n := countPackets(); n != 0 {
		t.Fatalf("%d packets on disk before the flush timer", n)
	}
	waitFor(t, "the flush timer", func() bool { return clk.Pending() > 0 })
	clk.Advance(time.Second)
	waitFor(t, "the flush", func() bool { return countPackets() == 50 })
	_, _ = a.Stop(ctx)
}

// Start refuses a decision that records nothing, a second recording of
// the same target, and a bad target; StartTrack refuses what is not recorded.
func TestStartRefusals(t *testing.T) {
	rec, _ := newTestRecorder(t, Config{})
	ctx := context.Background()
	_, err := rec.Start(ctx, Target{Account: "a", CallID: "c"}, Decision{Type: TypeNone, Reason: ReasonEndToEndEncrypted})
	var pe *PolicyError
	if !errors.As(err, &pe) || pe.Reason != ReasonEndToEndEncrypted || !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("none: %v", err)
	}
	if _, err := rec.Start(ctx, Target{Account: "a"}, audioDecision); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no target: %v", err)
	}
	if _, err := rec.Start(ctx, Target{Account: "a", CallID: "c", SessionID: "s"}, audioDecision); !errors.Is(err, ErrInvalid) {
		t.Fatalf("two targets: %v", err)
	}
	a, err := rec.Start(ctx, Target{Account: "a", CallID: "c"}, audioDecision)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Start(ctx, Target{Account: "a", CallID: "c"}, audioDecision); !errors.Is(err, ErrAlreadyRecording) {
		t.Fatalf("twice: %v", err)
	}
	if rec.Active(Target{Account: "a", CallID: "c"}) != a || rec.Active(Target{Account: "b", CallID: "c"}) != nil {
		t.Fatal("Active")
	}
	if _, err := a.StartTrack(ctx, TrackInfo{ParticipantID: "p", Kind: KindVideo, Codec: vp8Codec}); !errors.Is(err, ErrNotRecorded) {
		t.Fatalf("video in an audio recording: %v", err)
	}
	pcmu := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}}
	if _, err := a.StartTrack(ctx, TrackInfo{ParticipantID: "p", Kind: KindAudio, Codec: pcmu}); !errors.Is(err, ErrUnsupportedCodec) {
		t.Fatalf("PCMU: %v", err)
	}
	if _, err := a.StartTrack(ctx, TrackInfo{ParticipantID: "p", Kind: "data"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("kind: %v", err)
	}
	if recs, _ := a.Stop(ctx); len(recs) != 0 {
		t.Fatalf("a recording without media leaves nothing: %+v", recs)
	}
	if _, err := a.StartTrack(ctx, TrackInfo{ParticipantID: "p", Kind: KindAudio, Codec: opusCodec}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after stop: %v", err)
	}
	if rec.Active(Target{Account: "a", CallID: "c"}) != nil {
		t.Fatal("still active after stop")
	}
	// The same target can be recorded again.
	if _, err := rec.Start(ctx, Target{Account: "a", CallID: "c"}, audioDecision); err != nil {
		t.Fatal(err)
	}
}

// A track ends with the context given to StartTrack: its file is finished
// without Stop; a later track of the same participant makes a new file.
func TestTrackEndsWithItsContext(t *testing.T) {
	rec, st := newTestRecorder(t, Config{})
	ctx := context.Background()
	a, _ := rec.Start(ctx, Target{Account: "acct", CallID: "c"}, audioDecision)
	tctx, cancel := context.WithCancel(ctx)
	tr, _ := a.StartTrack(tctx, TrackInfo{ParticipantID: "p", Kind: KindAudio, Codec: opusCodec})
	sendAudio(t, tr, tone(t, 10, 440), 0, 0, nil)
	cancel()
	waitFor(t, "the file to be finished", func() bool {
		l, _ := st.List(ctx, Filter{Account: "acct", Status: StatusCompleted})
		return len(l) == 1
	})
	if err := tr.WriteRTP(&rtp.Header{}, []byte{1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after the context ended: %v", err)
	}
	tr2, _ := a.StartTrack(ctx, TrackInfo{ParticipantID: "p", Kind: KindAudio, Codec: opusCodec})
	sendAudio(t, tr2, tone(t, 10, 440), 0, 0, nil)
	if err := tr2.Close(); err != nil {
		t.Fatal(err)
	}
	_ = tr2.Close() // idempotent
	recs, _ := a.Stop(ctx)
	if len(recs) != 2 || recs[0].ID == recs[1].ID {
		t.Fatalf("%+v", recs)
	}
	for _, r := range recs {
		checkPlayable(t, mediaPath(st, r))
	}
}

// The two parties of a 1:1 call (identities, no participant ids) get a
// file each; one party's second track before the first ends shares the file.
func TestFilePerParty(t *testing.T) {
	rec, _ := newTestRecorder(t, Config{})
	ctx := context.Background()
	a, _ := rec.Start(ctx, Target{Account: "acct", CallID: "c"}, audioDecision)
	ta, _ := a.StartTrack(ctx, TrackInfo{Identity: "alice", Kind: KindAudio, Codec: opusCodec})
	tb, _ := a.StartTrack(ctx, TrackInfo{Identity: "bob", Kind: KindAudio, Codec: opusCodec})
	sendAudio(t, ta, tone(t, 5, 440), 0, 0, nil)
	sendAudio(t, tb, tone(t, 5, 440), 0, 0, nil)
	if ta.RecordingID() == tb.RecordingID() {
		t.Fatal("alice and bob share a file")
	}
	recs, _ := a.Stop(ctx)
	if len(recs) != 2 || recs[0].Identity == recs[1].Identity {
		t.Fatalf("%+v", recs)
	}
}
