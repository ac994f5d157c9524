package calling_test

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// observer collects what a client sees of the server's messages.
type observer struct {
	msgs chan protocol.Message
}

func newObserver() *observer { return &observer{msgs: make(chan protocol.Message, 4096)} }

func (o *observer) see(m protocol.Message) {
	select {
	case o.msgs <- m:
	default:
	}
}

// dialObserved connects identity with o seeing every server message.
func (e *env) dialObserved(identity string, o func(protocol.Message)) *client.Client {
	e.t.Helper()
	return e.dialConfig(client.Config{Token: e.token(identity, roomGrants), OnMessage: o})
}

// dialConfig connects with cfg, its URL and API set to the env's.
func (e *env) dialConfig(cfg client.Config) *client.Client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg.URL, cfg.API = e.wsURL, e.api
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.clients = append(e.clients, c)
	return c
}

// waitOffer waits until o has seen (and the client answered) an offer
// whose track list satisfies ok.
func waitOffer(t *testing.T, o *observer, ok func([]protocol.TrackInfo) bool) {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	for {
		select {
		case m := <-o.msgs:
			if m.Type == protocol.TypeOffer && ok(m.Tracks) {
				return
			}
		case <-ctx.Done():
			t.Fatal("no such offer")
		}
	}
}

// roundTrip sends a ping and waits for its pong: the server has handled
// every message c sent before (its loop handles them in order).
func roundTrip(t *testing.T, c *client.Client, o *observer, id string) {
	t.Helper()
	if err := c.Send(protocol.Message{Type: protocol.TypePing, ID: id}); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 10*time.Second)
	for {
		select {
		case m := <-o.msgs:
			if m.Type == protocol.TypePong && m.ID == id {
				return
			}
		case <-ctx.Done():
			t.Fatal("no pong")
		}
	}
}

func hasTrack(pid, alias string) func([]protocol.TrackInfo) bool {
	return func(ts []protocol.TrackInfo) bool {
		for _, t := range ts {
			if t.ParticipantID == pid && t.StreamAlias == alias {
				return true
			}
		}
		return false
	}
}

func waitConnected(t *testing.T, c *client.Client) {
	t.Helper()
	waitFor(t, func() bool {
		pc := c.PeerConnection()
		return pc != nil && pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
}

// A subscriber that is in the room before a publisher starts receives the
// publisher's very first packets: the track is negotiated when it is
// announced, not when its first packet reaches the server.
func TestFirstPacketsArrive(t *testing.T) {
	e := newEnv(t, nil)
	obs := newObserver()
	sub := e.dialObserved("sub", obs.see)
	ctx := ctxT(t, 30*time.Second)
	if _, err := sub.Join(ctx, client.JoinRequest{Room: "first"}); err != nil {
		t.Fatal(err)
	}
	waitConnected(t, sub)

	pub := e.dial("pub")
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "pub")
	if err := pub.Publish(rooms.AliasMicrophone, mic); err != nil {
		t.Fatal(err)
	}
	jp, err := pub.Join(ctx, client.JoinRequest{Room: "first"})
	if err != nil {
		t.Fatal(err)
	}
	// The subscriber is offered the track before any packet was sent, and
	// the server has applied its answer.
	waitOffer(t, obs, hasTrack(jp.ParticipantID, rooms.AliasMicrophone))
	roundTrip(t, sub, obs, "synced")
	waitConnected(t, pub)

	const n = 50
	go func() {
		for i := uint32(1); i <= n; i++ {
			_ = mic.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: i * 960}, Payload: opusFrame(i)})
			time.Sleep(5 * time.Millisecond) // pacing, not synchronisation
		}
	}()
	tr := waitTrack(t, sub, jp.ParticipantID)
	if tr.Alias != rooms.AliasMicrophone {
		t.Fatalf("alias %q", tr.Alias)
	}
	for i := uint32(1); i <= n; i++ {
		_ = tr.SetReadDeadline(time.Now().Add(5 * time.Second))
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if got := binary.BigEndian.Uint32(pkt.Payload[1:5]); got != i || string(pkt.Payload) != string(opusFrame(i)) {
			t.Fatalf("packet %d: got frame %d (payload intact: %v)", i, got, string(pkt.Payload) == string(opusFrame(got)))
		}
	}
}

var churn = flag.Int("churn", 0, "publishers that join, publish and leave one after another in TestMLinesReused (0: 1000; 200 with -short or -race)")

// churnCount is the 1,000 guests (about 40-100 s on two cores),
// fewer where the suite must stay quick.
func churnCount() int {
	switch {
	case *churn > 0:
		return *churn
	case testing.Short() || raceEnabled:
		return 200
	}
	return 1000
}

// A participant who stays while many others join, publish and leave keeps
// its connection, receives each current publisher, and is never offered
// more m-lines than it receives tracks now plus a few being recycled.
func TestMLinesReused(t *testing.T) {
	e := newEnv(t, func(c *calling.Config) {
		c.MessageRate = 10000
		c.MessageBurst = 10000
		// Guests join as fast as the machine goes: the server's join rate
		// (a limit tested on its own) is not what this test is about.
		c.Limits.JoinRate = -1
	})
	const (
		spareMLines = 3        // m-lines freed in the last rounds, not yet reused
		maxOffer    = 12 << 10 // bytes
	)
	var mu sync.Mutex
	offers, maxMLines, maxSize, worst := 0, 0, 0, ""
	stay := e.dialObserved("stay", func(m protocol.Message) {
		if m.Type != protocol.TypeOffer {
			return
		}
		mlines := strings.Count(m.SDP, "\nm=")
		mu.Lock()
		defer mu.Unlock()
		offers++
		maxMLines, maxSize = max(maxMLines, mlines), max(maxSize, len(m.SDP))
		// one application m-line for the data channel
		if mlines > len(m.Tracks)+1+spareMLines || len(m.SDP) > maxOffer {
			worst = fmt.Sprintf("offer %d: %d m-lines for %d tracks, %d bytes", offers, mlines, len(m.Tracks), len(m.SDP))
		}
	})
	ctx := ctxT(t, 30*time.Minute)
	if _, err := stay.Join(ctx, client.JoinRequest{Room: "busy"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	guests := churnCount()
	for i := 0; i < guests; i++ {
		tok := e.token(fmt.Sprintf("guest-%d", i), roomGrants)
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := client.Dial(dctx, client.Config{URL: e.wsURL, Token: tok, API: e.api})
		if err != nil {
			cancel()
			t.Fatalf("guest %d: %v", i, err)
		}
		mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "g")
		_ = c.Publish(rooms.AliasMicrophone, mic)
		j, err := c.Join(dctx, client.JoinRequest{Room: "busy"})
		if err != nil {
			cancel()
			_ = c.Close()
			t.Fatalf("guest %d join: %v", i, err)
		}
		sendCtx, stopSend := context.WithCancel(dctx)
		go sendOpus(sendCtx, mic)
		tr := waitTrack(t, stay, j.ParticipantID)
		if tr.Alias != rooms.AliasMicrophone {
			t.Fatalf("guest %d: alias %q", i, tr.Alias)
		}
		readIntact(t, tr, 1)
		stopSend()
		cancel()
		_ = c.Close()
		waitEvent(t, stay, protocol.TypeParticipantLeft, j.ParticipantID)
		mu.Lock()
		bad := worst
		mu.Unlock()
		if bad != "" {
			t.Fatalf("after guest %d: %s", i, bad)
		}
		select {
		case <-stay.Done():
			t.Fatalf("after guest %d the staying participant was disconnected: %v", i, stay.Err())
		default:
		}
	}
	mu.Lock()
	n, most, size := offers, maxMLines, maxSize
	mu.Unlock()
	t.Logf("%d guests in %v: %d offers, at most %d m-lines and %d bytes per offer", guests, time.Since(start).Round(time.Millisecond), n, most, size)
	if most > 1+1+spareMLines { // the data channel, the current guest's track, spares
		t.Fatalf("up to %d m-lines for one track at a time", most)
	}
}

// A client that publishes two audio tracks: each reaches a subscriber
// under its own stream alias (the client adds its tracks in the order of
// its publish list), and every offer names the m-line of each forwarded
// track by mid, matching the SDP.
func TestTwoAudioTracksKeepTheirAliases(t *testing.T) {
	e := newEnv(t, nil)
	obs := newObserver()
	sub := e.dialObserved("sub", obs.see)
	ctx := ctxT(t, 30*time.Second)
	if _, err := sub.Join(ctx, client.JoinRequest{Room: "duo"}); err != nil {
		t.Fatal(err)
	}
	pub := e.dial("pub")
	opus := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	voice, _ := webrtc.NewTrackLocalStaticRTP(opus, "a", "pub")
	music, _ := webrtc.NewTrackLocalStaticRTP(opus, "b", "pub")
	_ = pub.Publish("voice", voice)
	_ = pub.Publish("music", music)
	jp, err := pub.Join(ctx, client.JoinRequest{Room: "duo"})
	if err != nil {
		t.Fatal(err)
	}
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	const musicBase = 1 << 20 // music frames carry numbers from here
	go sendOpus(sendCtx, voice)
	go sendEvery20ms(sendCtx, music, 960, func(n uint32) []byte { return opusFrame(musicBase + n) })

	got := map[string]bool{}
	for len(got) < 2 {
		tr := waitTrack(t, sub, jp.ParticipantID)
		if got[tr.Alias] || (tr.Alias != "voice" && tr.Alias != "music") {
			t.Fatalf("track alias %q (have %v)", tr.Alias, got)
		}
		got[tr.Alias] = true
		for i := 0; i < 10; i++ {
			_ = tr.SetReadDeadline(time.Now().Add(5 * time.Second))
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				t.Fatal(err)
			}
			n := binary.BigEndian.Uint32(pkt.Payload[1:5])
			if string(pkt.Payload) != string(opusFrame(n)) || (n >= musicBase) != (tr.Alias == "music") {
				t.Fatalf("%s carries frame %d", tr.Alias, n)
			}
		}
	}
	// The offers' track lists match their SDP.
	checked := 0
	for checked == 0 || len(obs.msgs) > 0 {
		var m protocol.Message
		select {
		case m = <-obs.msgs:
		case <-ctx.Done():
			t.Fatal("no offer seen")
		}
		if m.Type != protocol.TypeOffer {
			continue
		}
		for _, ti := range m.Tracks {
			sec := sdpSection(m.SDP, ti.Mid)
			if !strings.Contains(sec, "m="+ti.Kind+" ") || !strings.Contains(sec, "a=msid:"+ti.ParticipantID+" "+ti.StreamAlias) {
				t.Fatalf("track %+v does not match its m-line:\n%s", ti, sec)
			}
			checked++
		}
	}
}

// sdpSection returns the m= section of sdp with mid.
func sdpSection(sdp, mid string) string {
	for _, sec := range strings.Split(sdp, "\r\nm=")[1:] {
		if strings.Contains(sec, "\r\na=mid:"+mid+"\r\n") {
			return "m=" + sec
		}
	}
	return ""
}

// midOf is the mid of the transceiver that receives tr.
func midOf(c *client.Client, tr *client.RemoteTrack) string {
	for _, x := range c.PeerConnection().GetTransceivers() {
		if x.Receiver() == tr.Receiver {
			return x.Mid()
		}
	}
	return ""
}

// A track on a reused m-line is sent like any other: the subscriber gets
// RTCP sender reports for it (the PeerConnection's interceptors run).
func TestReusedMLineSendsReports(t *testing.T) {
	e := newEnv(t, nil)
	obs := newObserver()
	reports := make(chan uint32, 64) // the SSRCs of the sender reports stay receives
	stay := e.dialConfig(client.Config{Token: e.token("stay", roomGrants), OnMessage: obs.see,
		OnRTCP: func(_ *client.RemoteTrack, pkts []rtcp.Packet) {
			for _, p := range pkts {
				if sr, ok := p.(*rtcp.SenderReport); ok {
					select {
					case reports <- sr.SSRC:
					default:
					}
				}
			}
		}})
	// stay publishes audio too: its receiving audio m-line must not be
	// taken for a forwarded track.
	own, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "stay")
	_ = stay.Publish(rooms.AliasMicrophone, own)
	ctx := ctxT(t, 30*time.Second)
	if _, err := stay.Join(ctx, client.JoinRequest{Room: "reuse"}); err != nil {
		t.Fatal(err)
	}
	guest := func(name string) (*client.Client, *client.RemoteTrack, context.CancelFunc) {
		c := e.dial(name)
		mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", name)
		_ = c.Publish(rooms.AliasMicrophone, mic)
		j, err := c.Join(ctx, client.JoinRequest{Room: "reuse"})
		if err != nil {
			t.Fatal(err)
		}
		sendCtx, stop := context.WithCancel(ctx)
		go sendOpus(sendCtx, mic)
		tr := waitTrack(t, stay, j.ParticipantID)
		readIntact(t, tr, 1)
		return c, tr, stop
	}
	first, tr1, stop1 := guest("first")
	mid := midOf(stay, tr1)
	stop1()
	_ = first.Close()
	// The departed track's m-line is offered inactive and that is answered.
	waitOffer(t, obs, func(ts []protocol.TrackInfo) bool { return len(ts) == 0 })
	roundTrip(t, stay, obs, "inactive-answered")

	_, tr2, stop2 := guest("second")
	defer stop2()
	if got := midOf(stay, tr2); got != mid || mid == "" {
		t.Fatalf("the second track came on mid %q, the first on %q: the m-line was not reused", got, mid)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ssrc := <-reports:
			if ssrc == uint32(tr2.SSRC()) {
				return
			}
		case <-deadline:
			t.Fatal("no sender report on the reused m-line")
		}
	}
}
