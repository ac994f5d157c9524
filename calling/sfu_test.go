package calling_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// opusFrame is a fake but well-formed Opus packet (TOC byte 0xFC: CELT FB
// 20 ms, one frame) carrying a sequence number, so the receiver can check
// every payload byte.
func opusFrame(n uint32) []byte {
	b := make([]byte, 41)
	b[0] = 0xFC
	binary.BigEndian.PutUint32(b[1:], n)
	for i := 5; i < len(b); i++ {
		b[i] = byte(n) ^ byte(i)
	}
	return b
}

// sendOpus writes 20 ms frames to track until ctx ends.
func sendOpus(ctx context.Context, track *webrtc.TrackLocalStaticRTP) {
	sendEvery20ms(ctx, track, 960, opusFrame)
}

// sendEvery20ms writes payload(n) every 20 ms, advancing the RTP timestamp by tsStep.
func sendEvery20ms(ctx context.Context, track *webrtc.TrackLocalStaticRTP, tsStep uint32, payload func(n uint32) []byte) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	var n uint32
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n++
			_ = track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(n), Timestamp: n * tsStep, Marker: true}, Payload: payload(n)})
		}
	}
}

func waitTrack(t *testing.T, c *client.Client, from string) *client.RemoteTrack {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	for {
		select {
		case tr := <-c.Tracks():
			if tr.ParticipantID == from {
				return tr
			}
		case <-ctx.Done():
			t.Fatalf("no track from %s", from)
		}
	}
}

// readIntact reads n packets and checks each payload is exactly what was sent.
func readIntact(t *testing.T, tr *client.RemoteTrack, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		_ = tr.SetReadDeadline(time.Now().Add(5 * time.Second))
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		seq := binary.BigEndian.Uint32(pkt.Payload[1:5])
		if !bytes.Equal(pkt.Payload, opusFrame(seq)) {
			t.Fatalf("packet %d: payload altered", i)
		}
	}
}

func TestRoomMediaSubscriptionsBroadcast(t *testing.T) {
	e := newEnv(t, nil)
	a, b, c := e.dial("alice"), e.dial("bob"), e.dial("carol")
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "alice")
	if err := a.Publish(rooms.AliasMicrophone, mic); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 20*time.Second)
	ja, err := a.Join(ctx, client.JoinRequest{Room: "standup"})
	if err != nil {
		t.Fatal(err)
	}
	jb, err := b.Join(ctx, client.JoinRequest{Room: "standup"})
	if err != nil {
		t.Fatal(err)
	}
	jc, err := c.Join(ctx, client.JoinRequest{Room: "standup"})
	if err != nil {
		t.Fatal(err)
	}
	if ja.SessionID != jb.SessionID || jb.SessionID != jc.SessionID || len(jc.Participants) != 2 {
		t.Fatalf("joined: %+v / %+v / %+v", ja, jb, jc)
	}
	sid := ja.SessionID
	// Third-party control: carol receives only bob.
	if err := e.rooms.SetSubscriptions(ctx, acct, sid, jc.ParticipantID, &rooms.Subscriptions{
		Participants: []rooms.ParticipantSubscription{{ParticipantID: jb.ParticipantID}},
	}); err != nil {
		t.Fatal(err)
	}
	sendCtx, stopSend := context.WithCancel(ctx)
	defer stopSend()
	go sendOpus(sendCtx, mic)

	trB := waitTrack(t, b, ja.ParticipantID)
	if trB.Alias != rooms.AliasMicrophone || trB.Codec().MimeType != webrtc.MimeTypeOpus {
		t.Fatalf("bob got %s %s", trB.Alias, trB.Codec().MimeType)
	}
	readIntact(t, trB, 50)

	// Carol, not subscribed to alice, has no track from her.
	select {
	case tr := <-c.Tracks():
		t.Fatalf("carol received a track from %s", tr.ParticipantID)
	default:
	}
	// Subscribing carol mid-call starts the flow.
	if err := e.rooms.SetSubscriptions(ctx, acct, sid, jc.ParticipantID, rooms.Everyone(sid)); err != nil {
		t.Fatal(err)
	}
	trC := waitTrack(t, c, ja.ParticipantID)
	readIntact(t, trC, 25)

	// Unsubscribing bob stops his flow: the track ends.
	if err := e.rooms.SetSubscriptions(ctx, acct, sid, jb.ParticipantID, &rooms.Subscriptions{}); err != nil {
		t.Fatal(err)
	}
	_ = trB.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := trB.ReadRTP(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("bob's track after unsubscribe: %v, want EOF", err)
			}
			break
		}
	}
	readIntact(t, trC, 10) // carol still receives

	// Broadcast reaches all three over their data channels.
	for _, cl := range []*client.Client{a, b, c} {
		select {
		case <-cl.DataChannelOpen():
		case <-ctx.Done():
			t.Fatal("data channel did not open")
		}
	}
	n, err := e.srv.Broadcast(ctx, acct, sid, "all hands in 5")
	if err != nil || n != 3 {
		t.Fatalf("broadcast reached %d (%v), want 3", n, err)
	}
	for name, cl := range map[string]*client.Client{"alice": a, "bob": b, "carol": c} {
		select {
		case d := <-cl.Data():
			if d.Type != protocol.DataBroadcast || d.Text != "all hands in 5" || d.Date.IsZero() {
				t.Fatalf("%s got %+v", name, d)
			}
		case <-ctx.Done():
			t.Fatalf("%s: no broadcast", name)
		}
	}

	// A data message to one identity reaches only that identity.
	if err := a.SendData(ctx, "bob", "psst"); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-b.Data():
		if d.Type != protocol.DataMessage || d.Text != "psst" || d.From != "alice" {
			t.Fatalf("bob got %+v", d)
		}
	case <-ctx.Done():
		t.Fatal("bob: no message")
	}
	if err := a.SendData(ctx, "", "hi all"); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []*client.Client{b, c} {
		select {
		case d := <-cl.Data():
			if d.Text != "hi all" {
				t.Fatalf("got %+v (carol must not have seen psst)", d)
			}
		case <-ctx.Done():
			t.Fatal("no message to all")
		}
	}
	stopSend()

	// Leaving: the others are told, and the room is cleaned up.
	_ = a.Close()
	waitEvent(t, b, protocol.TypeParticipantLeft, ja.ParticipantID)
	_ = b.Close()
	_ = c.Close()
	e.clients = nil
	waitFor(t, func() bool {
		_, err := e.rooms.Session(context.Background(), acct, sid)
		return err != nil || sessionEmpty(e, sid)
	})
}

func sessionEmpty(e *env, sid string) bool {
	s, err := e.rooms.Session(context.Background(), acct, sid)
	return err == nil && len(s.Members) == 0
}

func waitEvent(t *testing.T, c *client.Client, typ, pid string) protocol.Message {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	for {
		select {
		case m := <-c.Events():
			if m.Type == typ && (pid == "" || m.ParticipantID == pid) {
				return m
			}
		case <-ctx.Done():
			t.Fatalf("no %s event", typ)
		}
	}
}

// waitFor polls cond (for state that has no event to wait on).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
