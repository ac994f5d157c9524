package calling_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// sendPackets writes the same video payload every 20 ms until ctx ends.
func sendPackets(ctx context.Context, tr *webrtc.TrackLocalStaticRTP, payload []byte) {
	sendEvery20ms(ctx, tr, 3000, func(uint32) []byte { return payload })
}

// VP8 and H.264 video are forwarded with their codecs; muting stops a
// stream at the SFU and the others are told.
func TestVideoCodecsAndMute(t *testing.T) {
	e := newEnv(t, nil)
	a, b := e.dial("alice"), e.dial("bob")
	vp8, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "cam", "a")
	h264, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "screen", "a")
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "a")
	for alias, tr := range map[string]*webrtc.TrackLocalStaticRTP{rooms.AliasCamera: vp8, rooms.AliasScreenShare: h264, rooms.AliasMicrophone: mic} {
		if err := a.Publish(alias, tr); err != nil {
			t.Fatal(err)
		}
	}
	ctx := ctxT(t, 20*time.Second)
	ja, err := a.Join(ctx, client.JoinRequest{Room: "video"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Join(ctx, client.JoinRequest{Room: "video"}); err != nil {
		t.Fatal(err)
	}
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sendPackets(sendCtx, vp8, []byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a}) // VP8 keyframe start
	go sendPackets(sendCtx, h264, []byte{0x65, 0x88, 0x84})                  // IDR NAL
	go sendOpus(sendCtx, mic)

	got := map[string]*client.RemoteTrack{}
	for len(got) < 3 {
		tr := waitTrack(t, b, ja.ParticipantID)
		got[tr.Alias] = tr
	}
	for alias, mime := range map[string]string{rooms.AliasCamera: webrtc.MimeTypeVP8, rooms.AliasScreenShare: webrtc.MimeTypeH264, rooms.AliasMicrophone: webrtc.MimeTypeOpus} {
		tr := got[alias]
		if tr == nil || !strings.EqualFold(tr.Codec().MimeType, mime) {
			t.Fatalf("%s: %v", alias, tr)
		}
		_ = tr.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := tr.ReadRTP(); err != nil {
			t.Fatalf("%s: no packet: %v", alias, err)
		}
	}

	// Mute the microphone: bob is told, and packets stop at the SFU.
	if err := a.Mute(rooms.AliasMicrophone, true); err != nil {
		t.Fatal(err)
	}
	m := waitEvent(t, b, protocol.TypeMuted, ja.ParticipantID)
	if m.StreamAlias != rooms.AliasMicrophone || m.Muted == nil || !*m.Muted {
		t.Fatalf("muted event %+v", m)
	}
	mt := got[rooms.AliasMicrophone]
	// Drain what was in flight, then expect silence for 300 ms (15 packet times).
	for {
		_ = mt.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, _, err := mt.ReadRTP(); err != nil {
			break
		}
	}
	if err := a.Mute(rooms.AliasMicrophone, false); err != nil {
		t.Fatal(err)
	}
	readIntact(t, mt, 5) // resumes
}

// A participant the REST API created joins its session by id; a
// participant that is not a member gets 404.
func TestJoinSessionByID(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxT(t, 10*time.Second)
	s, _ := e.rooms.CreateSession(ctx, acct, "call")
	member, _ := e.rooms.CreateParticipant(ctx, acct, rooms.ParticipantSpec{PublishPermissions: []auth.Media{auth.MediaAudio}})
	outsider, _ := e.rooms.CreateParticipant(ctx, acct, rooms.ParticipantSpec{})
	if err := e.rooms.AddParticipant(ctx, acct, s.ID, member.ID, nil); err != nil {
		t.Fatal(err)
	}
	tokFor := func(pid string) string {
		tok, _, err := e.issuer.Mint(ctx, auth.TokenRequest{Identity: pid, Account: acct, ParticipantID: pid, Grants: auth.Grants{Publish: []auth.Media{auth.MediaAudio}, Data: true}})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	c := e.dialToken(tokFor(member.ID))
	j, err := c.Join(ctx, client.JoinRequest{SessionID: s.ID})
	if err != nil || j.SessionID != s.ID || j.ParticipantID != member.ID {
		t.Fatalf("member join: %+v %v", j, err)
	}
	o := e.dialToken(tokFor(outsider.ID))
	if _, err := o.Join(ctx, client.JoinRequest{SessionID: s.ID}); err == nil || err.(*protocol.Error).Code != 404 {
		t.Fatalf("outsider join: %v", err)
	}
	// Publishing video without the permission is refused.
	v := e.dialToken(tokFor(member.ID))
	cam, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "cam", "x")
	_ = v.Publish(rooms.AliasCamera, cam)
	if _, err := v.Join(ctx, client.JoinRequest{SessionID: s.ID}); err == nil || err.(*protocol.Error).Reason != "publish_not_permitted" {
		t.Fatalf("video without permission: %v", err)
	}
	// A room the token does not grant is refused.
	if _, err := o.Join(ctx, client.JoinRequest{Room: "secret"}); err == nil || err.(*protocol.Error).Code != 403 {
		t.Fatalf("ungranted room: %v", err)
	}
}

// Data messages need the data grant and respect the size limit.
func TestDataLimits(t *testing.T) {
	e := newEnv(t, func(c *calling.Config) { c.MaxDataMessageBytes = 200 })
	ctx := ctxT(t, 10*time.Second)
	a := e.dial("alice")
	mute := e.dialToken(e.token("quiet", auth.Grants{Rooms: []string{"*"}}))
	b := e.dial("bob")
	for _, c := range []*client.Client{a, mute, b} {
		if _, err := c.Join(ctx, client.JoinRequest{Room: "chat"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*client.Client{a, mute, b} {
		select {
		case <-c.DataChannelOpen():
		case <-ctx.Done():
			t.Fatal("data channel did not open")
		}
	}
	// What the client sends is {"type":"message","to":"bob","text":"…"}.
	exact := strings.Repeat("x", 200-len(`{"type":"message","to":"bob","text":""}`))
	if err := a.SendData(ctx, "bob", exact); err != nil {
		t.Fatal(err)
	}
	if d := recvData(t, b); d.Text != exact {
		t.Fatalf("bob got %+v", d)
	}
	if err := a.SendData(ctx, "bob", exact+"x"); err != nil {
		t.Fatal(err)
	}
	if d := recvData(t, a); d.Type != "error" {
		t.Fatalf("one byte over the limit: %+v", d)
	}
	if err := mute.SendData(ctx, "", "hello?"); err != nil {
		t.Fatal(err)
	}
	if d := recvData(t, mute); d.Type != "error" || !strings.Contains(d.Text, "data") {
		t.Fatalf("without the data grant: %+v", d)
	}
}

func recvData(t *testing.T, c *client.Client) protocol.DataEnvelope {
	t.Helper()
	select {
	case d := <-c.Data():
		return d
	case <-ctxT(t, 5*time.Second).Done():
		t.Fatal("no data-channel message in 5 s")
	}
	return protocol.DataEnvelope{}
}

// A new video subscriber makes the SFU ask the publisher for a keyframe.
func TestKeyframeRequestedForNewSubscriber(t *testing.T) {
	e := newEnv(t, nil)
	a := e.dial("alice")
	cam, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "cam", "a")
	if err := a.Publish(rooms.AliasCamera, cam); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 20*time.Second)
	if _, err := a.Join(ctx, client.JoinRequest{Room: "kf"}); err != nil {
		t.Fatal(err)
	}
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sendPackets(sendCtx, cam, []byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a})
	// Drain requests from before anyone subscribed.
	for len(a.KeyframeRequests()) > 0 {
		<-a.KeyframeRequests()
	}
	b := e.dial("bob")
	if _, err := b.Join(ctx, client.JoinRequest{Room: "kf"}); err != nil {
		t.Fatal(err)
	}
	select {
	case alias := <-a.KeyframeRequests():
		if alias != rooms.AliasCamera {
			t.Fatalf("keyframe request for %q", alias)
		}
	case <-ctx.Done():
		t.Fatal("no keyframe request after a new video subscriber")
	}
}
