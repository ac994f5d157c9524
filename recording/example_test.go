package recording_test

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/recording"
)

// One participant's token says ALWAYS: the whole call is recorded, every
// participant included, at the account's setting.
func ExampleResolve() {
	d := recording.Resolve(recording.PolicyInput{
		Account: recording.AccountSetting{Type: recording.TypeAudioAndVideo},
		Call:    recording.CallAudio,
		Parties: []recording.Party{
			{ID: "alice", Option: auth.RecordingOnDemand},
			{ID: "bob", Option: auth.RecordingAlways},
		},
	})
	fmt.Println(d.Type, d.Triggered)
	// Output: AUDIO_AND_VIDEO [bob]
}

// The host records a call: Start with the policy's decision, a
// TrackRecorder per published track (the SFU calls its WriteRTP), Stop at
// the end.
func ExampleRecorder() {
	dir, _ := os.MkdirTemp("", "recordings")
	defer os.RemoveAll(dir)
	store, _ := recording.NewFileStorage(dir)
	rec, _ := recording.New(recording.Config{Storage: store})
	ctx := context.Background()

	active, _ := rec.Start(ctx, recording.Target{Account: "acct", CallID: "c-1"}, recording.Decision{Type: recording.TypeAudio})
	opus := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}}
	tr, _ := active.StartTrack(ctx, recording.TrackInfo{ParticipantID: "p-1", Identity: "alice", Kind: "audio", Codec: opus})
	for i := range 50 { // one second of 20 ms packets (here: packets of comfort noise)
		_ = tr.WriteRTP(&rtp.Header{SequenceNumber: uint16(i), Timestamp: uint32(i * 960)}, []byte{0xF8, 0xFF, 0xFE})
	}
	recs, _ := active.Stop(ctx)
	fmt.Println(len(recs), recs[0].Format, recs[0].Status, recs[0].DurationMs)
	// Output: 1 ogg completed 1000
}

// An Ogg Opus file from packets and their positions: a hole in the
// positions stays a hole in time.
func ExampleOggWriter() {
	var buf bytes.Buffer
	w, _ := recording.NewOggWriter(&buf, recording.OggOptions{})
	packet := []byte{0xF8, 0xFF, 0xFE} // 20 ms
	_ = w.WritePacket(0, packet)
	_ = w.WritePacket(960, packet)
	_ = w.WritePacket(5*960, packet) // three packets lost before this one
	_ = w.Close()
	fmt.Println(w.Position(), "samples =", w.Position()/48, "ms")
	// Output: 5760 samples = 120 ms
}
