package calling_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// A client that joins with "dataChannel": false gets media but no data
// channel (no m=application in its offers); broadcasts reach only the
// participants that have one, and its own SendData fails at once.
func TestJoinWithoutDataChannel(t *testing.T) {
	e := newEnv(t, nil)
	a := e.dial("alice")
	d := e.dialConfig(client.Config{Token: e.token("dave", roomGrants), NoDataChannel: true})
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "alice")
	if err := a.Publish(rooms.AliasMicrophone, mic); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 20*time.Second)
	ja, err := a.Join(ctx, client.JoinRequest{Room: "town-hall"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Join(ctx, client.JoinRequest{Room: "town-hall"}); err != nil {
		t.Fatal(err)
	}
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sendOpus(sendCtx, mic)
	readIntact(t, waitTrack(t, d, ja.ParticipantID), 25)

	if sdp := d.PeerConnection().RemoteDescription().SDP; strings.Contains(sdp, "m=application") {
		t.Fatalf("dave was offered a data channel:\n%s", sdp)
	}
	if sdp := a.PeerConnection().RemoteDescription().SDP; !strings.Contains(sdp, "m=application") {
		t.Fatal("alice was offered no data channel")
	}
	select {
	case <-a.DataChannelOpen():
	case <-ctx.Done():
		t.Fatal("alice's data channel did not open")
	}
	n, err := e.srv.Broadcast(ctx, acct, ja.SessionID, "doors close in 5")
	if err != nil || n != 1 {
		t.Fatalf("broadcast reached %d (%v), want 1 (alice)", n, err)
	}
	select {
	case m := <-a.Data():
		if m.Type != protocol.DataBroadcast || m.Text != "doors close in 5" {
			t.Fatalf("alice got %+v", m)
		}
	case <-ctx.Done():
		t.Fatal("alice: no broadcast")
	}
	if err := d.SendData(ctx, "", "hi"); !errors.Is(err, client.ErrNoDataChannel) {
		t.Fatalf("SendData without a data channel: %v", err)
	}
}

// Both parties of a call can do without a data channel; the call is
// confirmed and media flows both ways.
func TestCallWithoutDataChannel(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.dialConfig(client.Config{Token: e.token("alice", callGrants), NoDataChannel: true})
	bob := e.dialConfig(client.Config{Token: e.token("bob", callGrants), NoDataChannel: true})
	establish(t, e, alice, bob)
	for name, c := range map[string]*client.Client{"alice": alice, "bob": bob} {
		if sdp := c.PeerConnection().RemoteDescription().SDP; strings.Contains(sdp, "m=application") {
			t.Fatalf("%s was offered a data channel", name)
		}
	}
}
