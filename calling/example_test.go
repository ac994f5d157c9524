package calling_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/calling/sfu"
	"github.com/switchboard-rtc/switchboard/netquality"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// Mount the signaling server, join a room with the Go client, and
// broadcast to everyone in it over the data channel.
func ExampleServer() {
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	mgr, _ := rooms.NewManager(rooms.Config{})
	srv, err := calling.New(calling.Config{Rooms: mgr, Verifier: ver,
		Media: calling.MediaConfig{ICEIPs: []string{"127.0.0.1"}}}) // keep media on loopback
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	mux := http.NewServeMux()
	mux.Handle("/v1/signal", srv)
	hs := httptest.NewServer(mux)
	defer hs.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, _, _ := iss.Mint(ctx, auth.TokenRequest{Identity: "alice", Account: "acct", Grants: auth.Grants{Rooms: []string{"lobby"}, Data: true}})
	api, _ := client.NewAPI("127.0.0.1")
	c, err := client.Dial(ctx, client.Config{URL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/signal", Token: tok, API: api})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	joined, err := c.Join(ctx, client.JoinRequest{Room: "lobby"})
	if err != nil {
		panic(err)
	}
	<-c.DataChannelOpen()
	n, _ := srv.Broadcast(ctx, "acct", joined.SessionID, "welcome")
	msg := <-c.Data()
	fmt.Println(n, msg.Type, msg.Text)
	// Output: 1 broadcast welcome
}

// A host attaches a sink (here a packet counter; a recorder's writer in
// practice) to every published track, and finishes when the track ends.
func ExampleTrackObserverFunc() {
	started, ended := make(chan string, 1), make(chan string, 1)
	observer := calling.TrackObserverFunc(func(ctx context.Context, t calling.PublishedTrack) {
		var packets atomic.Int64
		detach, err := t.Track.Attach(sfu.SinkFunc(func(h *rtp.Header, payload []byte) error {
			packets.Add(1) // on the track's sink goroutine: quick, keeps nothing
			return nil
		}))
		if err != nil {
			return // the track has already ended
		}
		defer detach()
		fmt.Println("recording", t.Identity, t.StreamAlias, t.Kind, t.Codec.MimeType)
		started <- t.StreamAlias
		<-ctx.Done() // unpublished, or its publisher left
		ended <- t.StreamAlias
	})

	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	mgr, _ := rooms.NewManager(rooms.Config{})
	srv, err := calling.New(calling.Config{Rooms: mgr, Verifier: ver, TrackObserver: observer,
		Media: calling.MediaConfig{ICEIPs: []string{"127.0.0.1"}}}) // keep media on loopback
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, _, _ := iss.Mint(ctx, auth.TokenRequest{Identity: "alice", Account: "acct",
		Grants: auth.Grants{Rooms: []string{"lobby"}, Publish: []auth.Media{auth.MediaAudio}}})
	api, _ := client.NewAPI("127.0.0.1")
	c, err := client.Dial(ctx, client.Config{URL: "ws" + strings.TrimPrefix(hs.URL, "http"), Token: tok, API: api})
	if err != nil {
		panic(err)
	}
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "alice")
	_ = c.Publish(rooms.AliasMicrophone, mic)
	if _, err := c.Join(ctx, client.JoinRequest{Room: "lobby"}); err != nil {
		panic(err)
	}
	<-started     // ... alice talks, the sink counts ...
	_ = c.Close() // alice leaves
	fmt.Println("ended", <-ended)
	// Output:
	// recording alice microphone audio audio/opus
	// ended microphone
}

// Network quality: a netquality.Monitor as Config.Quality, its level
// changes handed back to the Server (the host's glue), and the
// networkQuality message alice gets once her uplink has been scored (she
// receives nothing, so her downlink is not).
func ExampleServer_NetworkQualityChanged() {
	var server atomic.Pointer[calling.Server]
	link := func(q netquality.Quality) protocol.LinkQuality {
		return protocol.LinkQuality{Level: q.Level.String(), MOS: q.MOS, Loss: q.LossPercent, JitterMs: q.JitterMs, RTTMs: q.RTTMs}
	}
	mon, _ := netquality.New(netquality.Config{OnChange: func(c netquality.Change) {
		if s := server.Load(); s != nil {
			s.NetworkQualityChanged(calling.QualityChange{ParticipantID: c.ParticipantID, Direction: c.Direction.String(),
				Level: c.Level.String(), MOS: c.MOS, Uplink: link(c.Uplink), Downlink: link(c.Downlink)})
		}
	}})
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	mgr, _ := rooms.NewManager(rooms.Config{})
	srv, err := calling.New(calling.Config{Rooms: mgr, Verifier: ver, Quality: mon,
		Media: calling.MediaConfig{ICEIPs: []string{"127.0.0.1"}}})
	if err != nil {
		panic(err)
	}
	server.Store(srv)
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, _, _ := iss.Mint(ctx, auth.TokenRequest{Identity: "alice", Account: "acct",
		Grants: auth.Grants{Rooms: []string{"*"}, Publish: []auth.Media{auth.MediaAudio}}})
	api, _ := client.NewAPI("127.0.0.1")
	quality := make(chan protocol.Message, 8)
	c, err := client.Dial(ctx, client.Config{URL: "ws" + strings.TrimPrefix(hs.URL, "http"), Token: tok, API: api,
		OnMessage: func(m protocol.Message) {
			if m.Type == protocol.TypeNetworkQuality {
				quality <- m
			}
		}})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "alice")
	_ = c.Publish(rooms.AliasMicrophone, mic)
	if _, err := c.Join(ctx, client.JoinRequest{Room: "lobby"}); err != nil {
		panic(err)
	}
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sendOpus(sendCtx, mic) // 20 ms Opus frames
	m := <-quality
	fmt.Println(m.Type, m.Level, "uplink", m.Uplink.Level, "downlink", m.Downlink.Level)
	// Output: networkQuality EXCELLENT uplink EXCELLENT downlink UNKNOWN
}

// Drain a server before shutting it down: an idle client is told where to
// connect next, and Drain returns once every connection has gone (a call
// or room would keep it until it ended or ctx did).
func ExampleServer_Drain() {
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	iss, _ := auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	ver, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys})
	mgr, _ := rooms.NewManager(rooms.Config{})
	srv, err := calling.New(calling.Config{Rooms: mgr, Verifier: ver, Media: calling.MediaConfig{ICEIPs: []string{"127.0.0.1"}}})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, _, _ := iss.Mint(ctx, auth.TokenRequest{Identity: "alice", Account: "acct"})
	api, _ := client.NewAPI("127.0.0.1")
	// ReconnectTimeout -1: this client only reports the message (the
	// default follows it to the URL).
	c, err := client.Dial(ctx, client.Config{URL: "ws" + strings.TrimPrefix(hs.URL, "http"), Token: tok, API: api, ReconnectTimeout: -1})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	drainCtx, stop := context.WithTimeout(ctx, 5*time.Second) // the drain timeout
	defer stop()
	err = srv.Drain(drainCtx, calling.DrainOptions{ReconnectURL: "wss://node-2.example.com/v1/signal"})
	m := <-c.Events()
	fmt.Println(err, srv.Draining(), m.Type, m.Reason, m.URL)
	// Output: <nil> true reconnect draining wss://node-2.example.com/v1/signal
}
