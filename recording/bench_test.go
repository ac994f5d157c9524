package recording

import (
	"context"
	"testing"

	"github.com/pion/rtp"
)

// The cost of WriteRTP on the forwarding path (the writer drains behind it).
func BenchmarkWriteRTP(b *testing.B) {
	rec, _ := newTestRecorder(b, Config{QueueSize: 1 << 16})
	ctx := context.Background()
	a, _ := rec.Start(ctx, Target{Account: "a", CallID: "c"}, Decision{Type: TypeAudio})
	tr, _ := a.StartTrack(ctx, TrackInfo{ParticipantID: "p", Kind: KindAudio, Codec: opusCodec})
	p := tone(b, 1, 440)[0]
	h := &rtp.Header{Version: 2, SSRC: 1}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		h.SequenceNumber, h.Timestamp = uint16(i), uint32(i*960)
		_ = tr.WriteRTP(h, p)
	}
	b.StopTimer()
	_, _ = a.Stop(ctx)
}

// Composition speed: a minute of two parties, decoded, mixed and encoded.
func BenchmarkCompose(b *testing.B) {
	for range b.N {
		b.StopTimer()
		rec, _ := newTestRecorder(b, Config{QueueSize: 4096})
		ctx := context.Background()
		a, _ := rec.Start(ctx, Target{Account: "a", CallID: "c"}, Decision{Type: TypeAudio, Composition: true})
		pk := tone(b, 3000, 440)
		for _, id := range []string{"x", "y"} {
			tr, _ := a.StartTrack(ctx, TrackInfo{ParticipantID: id, Kind: KindAudio, Codec: opusCodec})
			sendAudio(b, tr, pk, 0, 0, nil)
			_ = tr.Close()
		}
		b.StartTimer()
		_, _ = a.Stop(ctx)
	}
}
