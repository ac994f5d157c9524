package sfu_test

import (
	"fmt"
	"io"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling/sfu"
)

// publisher stands in for the publisher's *webrtc.TrackRemote.
type publisher chan []byte

func (publisher) SSRC() webrtc.SSRC { return 4242 }

func (p publisher) Read(b []byte) (int, interceptor.Attributes, error) {
	raw, ok := <-p
	if !ok {
		return 0, nil, io.EOF
	}
	return copy(b, raw), nil, nil
}

// A sink attached to a published track sees the publisher's packets. In a
// server the track is also added to each subscriber's PeerConnection
// (pc.AddTrack(track)) and Forward reads the publisher's TrackRemote.
func Example() {
	track, err := sfu.NewTrack(sfu.TrackConfig{ID: "microphone", StreamID: "alice", Codec: webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}})
	if err != nil {
		panic(err)
	}
	seen := make(chan string, 3)
	detach, err := track.Attach(sfu.SinkFunc(func(h *rtp.Header, payload []byte) error {
		// Called on the track's sink goroutine: must not block, must not
		// keep h or payload.
		seen <- fmt.Sprintf("seq %d ts %d pt %d: %q", h.SequenceNumber, h.Timestamp, h.PayloadType, payload)
		return nil
	}))
	if err != nil {
		panic(err)
	}
	defer detach()

	pub := make(publisher)
	go func() { _ = track.Forward(pub) }() // the track's reader goroutine
	for i, word := range []string{"one", "two", "three"} {
		raw, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(i + 1), Timestamp: uint32(i) * 960}, Payload: []byte(word)}).Marshal()
		pub <- raw
	}
	for range 3 {
		fmt.Println(<-seen)
	}
	close(pub) // the publisher is gone: Forward returns and closes the track
	<-track.Done()
	// Output:
	// seq 1 ts 0 pt 111: "one"
	// seq 2 ts 960 pt 111: "two"
	// seq 3 ts 1920 pt 111: "three"
}
