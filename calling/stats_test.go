package calling_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// Stats counts calls as they end, by state and cause, and the calls in
// progress by state.
func TestStatsCalls(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 2 {
		placeOffline(t, e, i)
	}
	s := e.srv.Stats()
	if got := s.CallsEnded[calling.CallEnd{State: protocol.StateFailed, Cause: protocol.CauseCalleeOffline}]; got != 2 {
		t.Fatalf("failed callee_offline: %d, want 2 (%v)", got, s.CallsEnded)
	}
	if len(s.CallsEnded) != 1 {
		t.Fatalf("ended calls %v", s.CallsEnded)
	}
	if s.Quality != nil {
		t.Fatalf("quality without a QualityMonitor: %v", s.Quality)
	}
	for _, st := range []protocol.CallState{protocol.StateConnecting, protocol.StateRinging, protocol.StateAccepted, protocol.StateConfirmed} {
		if n, ok := s.Calls[st]; !ok || n != 0 {
			t.Fatalf("live calls %v: every live state present, none in progress", s.Calls)
		}
	}

	bob := e.phone("bob")
	c, err := e.srv.PlaceCall(context.Background(), acct, "app", "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return e.srv.Stats().Calls[protocol.StateRinging] == 1 })
	if err := bob.Reject(c.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		s := e.srv.Stats()
		return s.Calls[protocol.StateRinging] == 0 && s.CallsEnded[calling.CallEnd{State: protocol.StateEnded, Cause: protocol.CauseRejected}] == 1
	})
	if s := e.srv.Stats(); s.Connections != 1 || s.Rooms != 0 || s.Participants != 0 {
		t.Fatalf("one connection, in no room: %+v", s)
	}
}

// Stats counts rooms, participants and tracks as they come and go, and
// the packets forwarded to subscribers: at least what a subscriber read,
// and never less once the track is gone.
func TestStatsRoomMedia(t *testing.T) {
	e := newEnv(t, nil)
	obs := newObserver()
	sub := e.dialObserved("sub", obs.see)
	ctx := ctxT(t, 30*time.Second)
	if _, err := sub.Join(ctx, client.JoinRequest{Room: "stats"}); err != nil {
		t.Fatal(err)
	}
	pub := e.dial("pub")
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "pub")
	if err := pub.Publish(rooms.AliasMicrophone, mic); err != nil {
		t.Fatal(err)
	}
	jp, err := pub.Join(ctx, client.JoinRequest{Room: "stats"})
	if err != nil {
		t.Fatal(err)
	}
	waitOffer(t, obs, hasTrack(jp.ParticipantID, rooms.AliasMicrophone))
	roundTrip(t, sub, obs, "synced")
	waitConnected(t, pub)
	s := e.srv.Stats()
	if s.Rooms != 1 || s.CallSessions != 0 || s.Participants != 2 || s.Connections != 2 || s.Tracks != 1 || s.TracksPublished != 1 {
		t.Fatalf("a room of two with one track: %+v", s)
	}

	const n = 30
	frame := len(opusFrame(1))
	sendCtx, stopSending := context.WithCancel(ctx)
	defer stopSending()
	go func() {
		for i := uint32(1); sendCtx.Err() == nil; i++ { // until the subscriber has read n
			_ = mic.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: i * 960}, Payload: opusFrame(i)})
			time.Sleep(5 * time.Millisecond) // pacing, not synchronisation
		}
	}()
	tr := waitTrack(t, sub, jp.ParticipantID)
	readIntact(t, tr, n)
	stopSending()
	s = e.srv.Stats()
	if s.Media.ForwardedPackets < n || s.Media.ForwardedBytes < uint64(n*frame) {
		t.Fatalf("the subscriber read %d packets of %d bytes; forwarded %d packets, %d bytes", n, frame, s.Media.ForwardedPackets, s.Media.ForwardedBytes)
	}
	if s.Media.ForwardedBytes != s.Media.ForwardedPackets*uint64(frame) {
		t.Fatalf("forwarded %d packets of %d bytes but %d bytes", s.Media.ForwardedPackets, frame, s.Media.ForwardedBytes)
	}

	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		s := e.srv.Stats()
		return s.Tracks == 0 && s.Participants == 1 && s.Connections == 1
	})
	after := e.srv.Stats()
	if after.TracksPublished != 1 || after.Rooms != 1 || after.Media.ForwardedPackets < s.Media.ForwardedPackets {
		t.Fatalf("after the publisher left: %+v (before: %+v)", after, s)
	}
}

// Stats counts the participants a QualityMonitor scores by direction and
// level, UNKNOWN until a level is reported.
func TestStatsQuality(t *testing.T) {
	e := newEnv(t, func(c *calling.Config) { c.Quality = newFakeMonitor() })
	if s := e.srv.Stats(); s.Quality == nil || len(s.Quality) != 0 {
		t.Fatalf("quality with nobody scored: %v", s.Quality)
	}
	var pids []string
	for i := range 2 {
		c := e.dial(fmt.Sprintf("qual-%d", i))
		j, err := c.Join(ctxT(t, 10*time.Second), client.JoinRequest{Room: "quality"})
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, j.ParticipantID)
	}
	up := calling.QualityLevel{Direction: protocol.DirectionUplink, Level: protocol.QualityUnknown}
	down := calling.QualityLevel{Direction: protocol.DirectionDownlink, Level: protocol.QualityUnknown}
	waitFor(t, func() bool { s := e.srv.Stats(); return s.Quality[up] == 2 && s.Quality[down] == 2 })
	e.srv.NetworkQualityChanged(calling.QualityChange{ParticipantID: pids[0], Direction: protocol.DirectionUplink, Level: protocol.QualityPoor,
		Uplink: protocol.LinkQuality{Level: protocol.QualityGood}, Downlink: protocol.LinkQuality{Level: protocol.QualityPoor}})
	want := map[calling.QualityLevel]int{up: 1, down: 1,
		{Direction: protocol.DirectionUplink, Level: protocol.QualityGood}:   1,
		{Direction: protocol.DirectionDownlink, Level: protocol.QualityPoor}: 1}
	got := e.srv.Stats().Quality
	if len(got) != len(want) {
		t.Fatalf("quality %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("quality %v, want %v", got, want)
		}
	}
}
