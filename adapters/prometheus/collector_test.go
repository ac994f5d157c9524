package prometheus_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-rtc/switchboard/adapters/prometheus"
	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/netquality"
	"github.com/switchboard-rtc/switchboard/push"
	"github.com/switchboard-rtc/switchboard/recording"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// stack is every source of the Collector, real and on loopback: a calling
// Server with a netquality Monitor and Webhooks to a local receiver, the
// token endpoint, a push Waker with a provider that accepts everything,
// and a Recorder writing to a temporary folder.
type stack struct {
	issuer    *auth.Issuer
	tokens    *auth.TokenHandler
	srv       *calling.Server
	mon       *netquality.Monitor
	webhooks  *calling.Webhooks
	received  atomic.Int64 // webhook requests the receiver answered
	devices   *push.MemoryRegistry
	waker     *push.Waker
	recorder  *recording.Recorder
	wsURL     string
	clientAPI *webrtc.API
}

const (
	apiClient = "backend"
	apiSecret = "a-secret-of-enough-bytes"
)

func newStack(t *testing.T) *stack {
	t.Helper()
	st := &stack{}
	key, _ := auth.GenerateKey(auth.ES256)
	keys, _ := auth.NewKeySet(auth.KeySetConfig{Current: key})
	st.issuer, _ = auth.NewIssuer(auth.IssuerConfig{Keys: keys})
	verifier, _ := auth.NewVerifier(auth.VerifierConfig{Keys: keys, Replay: auth.NewMemoryReplayCache(auth.MemoryReplayCacheConfig{})})
	cl, err := auth.NewClient(apiClient, apiSecret, acct)
	if err != nil {
		t.Fatal(err)
	}
	if st.tokens, err = auth.NewTokenHandler(auth.TokenHandlerConfig{Issuer: st.issuer, Credentials: auth.NewMemoryCredentialStore(cl)}); err != nil {
		t.Fatal(err)
	}

	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st.received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	if st.webhooks, err = calling.NewWebhooks(calling.WebhookConfig{URL: receiver.URL, Secret: []byte("0123456789abcdef-webhooks")}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.webhooks.Close() })

	var srv atomic.Pointer[calling.Server]
	link := func(q netquality.Quality) protocol.LinkQuality {
		return protocol.LinkQuality{Level: q.Level.String(), MOS: q.MOS}
	}
	st.mon, _ = netquality.New(netquality.Config{OnChange: func(c netquality.Change) {
		if s := srv.Load(); s != nil {
			s.NetworkQualityChanged(calling.QualityChange{ParticipantID: c.ParticipantID, Direction: c.Direction.String(),
				Level: c.Level.String(), MOS: c.MOS, Uplink: link(c.Uplink), Downlink: link(c.Downlink)})
		}
	}})
	mgr, _ := rooms.NewManager(rooms.Config{})
	st.srv, err = calling.New(calling.Config{Rooms: mgr, Verifier: verifier, Hooks: st.webhooks, Quality: st.mon,
		QualityInterval: 100 * time.Millisecond, Media: calling.MediaConfig{ICEIPs: []string{"127.0.0.1"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Store(st.srv)
	t.Cleanup(func() { _ = st.srv.Close() })
	hs := httptest.NewServer(st.srv)
	t.Cleanup(hs.Close)
	st.wsURL = "ws" + strings.TrimPrefix(hs.URL, "http")
	if st.clientAPI, err = client.NewAPI("127.0.0.1"); err != nil {
		t.Fatal(err)
	}

	st.devices = push.NewMemoryRegistry(push.MemoryRegistryConfig{})
	accept := push.NotifierFunc(func(context.Context, push.Device, push.Wakeup) error { return nil })
	if st.waker, err = push.New(push.Config{Registry: st.devices, Notifiers: map[push.Platform]push.Notifier{push.FCM: accept}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.waker.Close() })

	store, err := recording.NewFileStorage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if st.recorder, err = recording.New(recording.Config{Storage: store}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.recorder.Close(context.Background()) })
	return st
}

func (st *stack) collector(t *testing.T) *prometheus.Collector {
	t.Helper()
	c, err := prometheus.New(prometheus.Config{Calling: st.srv, Webhooks: st.webhooks, Tokens: st.tokens,
		Push: st.waker, Recording: st.recorder, Quality: st.mon})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// requestToken asks the token endpoint for an access token with secret.
func (st *stack) requestToken(secret string) int {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(apiClient, secret)
	w := httptest.NewRecorder()
	st.tokens.ServeHTTP(w, r)
	return w.Code
}

// dial connects identity with a token to join rooms and publish audio.
func (st *stack) dial(t *testing.T, identity string) *client.Client {
	t.Helper()
	tok, _, err := st.issuer.Mint(context.Background(), auth.TokenRequest{Identity: identity, Account: acct,
		Grants: auth.Grants{Rooms: []string{"*"}, Publish: []auth.Media{auth.MediaAudio}}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(ctxT(t, 10*time.Second), client.Config{URL: st.wsURL, Token: tok, API: st.clientAPI})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// The Collector, scraped over HTTP, reports what a real server, token
// endpoint, webhooks, push waker and recorder did, by the right amounts.
func TestCollectorCountsRealActivity(t *testing.T) {
	st := newStack(t)
	url, reg := serve(t, st.collector(t))
	before := scrape(t, url)
	for _, s := range []struct {
		name   string
		labels []string
	}{
		{"switchboard_oauth_tokens_issued_total", nil},
		{"switchboard_oauth_tokens_refused_total", []string{"code", "invalid_client"}},
		{"switchboard_rtp_forwarded_packets_total", nil},
		{"switchboard_rooms", []string{"kind", "room"}},
		{"switchboard_calls", []string{"state", "ringing"}},
		{"switchboard_network_quality_participants", []string{"direction", "uplink", "level", "GOOD"}},
		{"switchboard_rtp_lost_packets_total", []string{"direction", "uplink"}},
		{"switchboard_recording_written_bytes_total", nil},
		{"switchboard_webhook_outbox_events", nil},
	} {
		if v := must(t, before, s.name, s.labels...); v != 0 {
			t.Fatalf("%s%v = %v before anything happened", s.name, s.labels, v)
		}
	}

	// Two tokens issued, one request refused.
	for _, secret := range []string{apiSecret, apiSecret, "wrong-secret"} {
		st.requestToken(secret)
	}
	// A call to nobody fails at once.
	if _, err := st.srv.PlaceCall(context.Background(), acct, "app", "nobody", protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	// A wake-up delivered to one device.
	if _, err := st.devices.Register(context.Background(), push.Device{Account: acct, Identity: "alice", Platform: push.FCM, Token: "fcm-token-1"}); err != nil {
		t.Fatal(err)
	}
	if err := st.waker.Wake(context.Background(), push.Wakeup{Account: acct, Identity: "alice", CallID: "c-1", ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	recorded := record(t, st.recorder)

	// A room of two: pub sends Opus packets 1..60 but for 5, 15, ... 55
	// (lost before the server), sub reads what the server forwards.
	sub := st.dial(t, "sub")
	if _, err := sub.Join(ctxT(t, 10*time.Second), client.JoinRequest{Room: "metrics"}); err != nil {
		t.Fatal(err)
	}
	pub := st.dial(t, "pub")
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "pub")
	if err := pub.Publish(rooms.AliasMicrophone, mic); err != nil {
		t.Fatal(err)
	}
	jp, err := pub.Join(ctxT(t, 10*time.Second), client.JoinRequest{Room: "metrics"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the subscriber bound to the track", func() bool {
		v, _ := value(scrape(t, url), "switchboard_tracks")
		return v == 1 && sub.PeerConnection() != nil && pub.PeerConnection() != nil &&
			pub.PeerConnection().ConnectionState() == webrtc.PeerConnectionStateConnected &&
			sub.PeerConnection().ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	const last, skipped = 60, 6
	go func() {
		for seq := uint32(1); seq <= last; seq++ {
			if seq%10 != 5 {
				_ = mic.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(seq), Timestamp: seq * 960}, Payload: opusFrame(seq)})
			}
			time.Sleep(5 * time.Millisecond) // pacing, not synchronisation
		}
	}()
	read := readUntil(t, sub, jp.ParticipantID, last)

	// The quality monitor has measured the whole uplink once a tick after
	// the last packet: 60 expected, the 6 gaps lost.
	var m = scrape(t, url)
	waitFor(t, "the uplink measured through the last packet", func() bool {
		m = scrape(t, url)
		v, _ := value(m, "switchboard_rtp_measured_packets_total", "direction", "uplink")
		return v >= last
	})
	if v := must(t, m, "switchboard_rtp_measured_packets_total", "direction", "uplink"); v != last {
		t.Fatalf("uplink packets measured %v, want %d", v, last)
	}
	if v := must(t, m, "switchboard_rtp_lost_packets_total", "direction", "uplink"); v != skipped {
		t.Fatalf("uplink packets lost %v, want %d", v, skipped)
	}
	fwd := must(t, m, "switchboard_rtp_forwarded_packets_total")
	if fwd < float64(read) || must(t, m, "switchboard_rtp_forwarded_bytes_total") != fwd*float64(len(opusFrame(1))) {
		t.Fatalf("forwarded %v packets, %v bytes; the subscriber read %d of %d bytes", fwd, must(t, m, "switchboard_rtp_forwarded_bytes_total"), read, len(opusFrame(1)))
	}
	// (The subscriber may miss the first packets if its answer is applied
	// after they were sent: the count it read is the bound that holds.)
	exact := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"switchboard_oauth_tokens_issued_total", nil, 2},
		{"switchboard_oauth_tokens_refused_total", []string{"code", "invalid_client"}, 1},
		{"switchboard_oauth_tokens_refused_total", []string{"code", "rate_limited"}, 0},
		{"switchboard_calls_ended_total", []string{"state", "failed", "cause", "callee_offline"}, 1},
		{"switchboard_calls", []string{"state", "ringing"}, 0},
		{"switchboard_push_outcomes_total", []string{"outcome", "delivered", "platform", "fcm"}, 1},
		{"switchboard_recordings_active", nil, 0},
		{"switchboard_recording_written_bytes_total", nil, float64(recorded)},
		{"switchboard_connections", nil, 2},
		{"switchboard_rooms", []string{"kind", "room"}, 1},
		{"switchboard_rooms", []string{"kind", "call"}, 0},
		{"switchboard_participants", nil, 2},
		{"switchboard_tracks", nil, 1},
		{"switchboard_tracks_published_total", nil, 1},
		{"switchboard_rtp_retransmitted_packets_total", nil, 0}, // audio: no NACKs
	}
	for _, e := range exact {
		if v := must(t, m, e.name, e.labels...); v != e.want {
			t.Errorf("%s%v = %v, want %v", e.name, e.labels, v, e.want)
		}
	}
	for _, dir := range []string{"uplink", "downlink"} {
		var n float64
		for _, level := range []string{"EXCELLENT", "GOOD", "FAIR", "POOR", "BAD", "UNKNOWN"} {
			n += must(t, m, "switchboard_network_quality_participants", "direction", dir, "level", level)
		}
		if n != 2 {
			t.Errorf("%s quality levels count %v participants, want 2", dir, n)
		}
	}
	// Every webhook event (the call's, the participants') was delivered.
	waitFor(t, "the webhook outbox to empty", func() bool {
		m = scrape(t, url)
		v, _ := value(m, "switchboard_webhook_outbox_events")
		return v == 0 && must(t, m, "switchboard_webhook_events_delivered_total") == float64(st.received.Load())
	})
	if d := must(t, m, "switchboard_webhook_events_delivered_total"); d < 2 {
		t.Fatalf("webhook events delivered %v, want at least the call's two", d)
	}

	// When the publisher leaves, its track is gone but not its counts.
	_ = pub.Close()
	waitFor(t, "the publisher gone", func() bool {
		m = scrape(t, url)
		v, _ := value(m, "switchboard_tracks")
		p, _ := value(m, "switchboard_participants")
		return v == 0 && p == 1
	})
	if v := must(t, m, "switchboard_rtp_forwarded_packets_total"); v < fwd {
		t.Fatalf("forwarded packets went from %v to %v", fwd, v)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}
}

// readUntil reads the track of participant from until the packet carrying
// frame number last, and returns how many packets it read.
func readUntil(t *testing.T, c *client.Client, from string, last uint32) int {
	t.Helper()
	var tr *client.RemoteTrack
	ctx := ctxT(t, 20*time.Second)
	for tr == nil {
		select {
		case x := <-c.Tracks():
			if x.ParticipantID == from {
				tr = x
			}
		case <-ctx.Done():
			t.Fatalf("no track from %s", from)
		}
	}
	n := 0
	for {
		_ = tr.SetReadDeadline(time.Now().Add(10 * time.Second))
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			t.Fatalf("after %d packets: %v", n, err)
		}
		n++
		if len(pkt.Payload) >= 5 && binary.BigEndian.Uint32(pkt.Payload[1:5]) == last {
			return n
		}
	}
}

// record writes a second of Opus into a recording and stops it; it returns
// the bytes the Recorder reports written.
func record(t *testing.T, rec *recording.Recorder) uint64 {
	t.Helper()
	ctx := context.Background()
	a, err := rec.Start(ctx, recording.Target{Account: acct, CallID: "c-rec"}, recording.Decision{Type: recording.TypeAudio})
	if err != nil {
		t.Fatal(err)
	}
	opus := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}
	tr, err := a.StartTrack(ctx, recording.TrackInfo{ParticipantID: "p-1", Identity: "alice", Kind: recording.KindAudio, Codec: opus})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Stats().Active != 1 {
		t.Fatal("the recording is not counted as active")
	}
	for i := uint32(0); i < 50; i++ {
		if err := tr.WriteRTP(&rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: i * 960, SSRC: 1}, opusFrame(i)); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := a.Stop(ctx)
	if err != nil || len(recs) != 1 || recs[0].Bytes == 0 {
		t.Fatalf("recording: %+v %v", recs, err)
	}
	if w := rec.Stats().BytesWritten; w < uint64(recs[0].Bytes) {
		t.Fatalf("written %d bytes, the file holds %d", w, recs[0].Bytes)
	}
	return rec.Stats().BytesWritten
}

// A Collector needs a source, and exports the metrics of its sources only.
func TestCollectorSources(t *testing.T) {
	if _, err := prometheus.New(prometheus.Config{}); !errors.Is(err, prometheus.ErrNoSource) {
		t.Fatalf("New without a source: %v", err)
	}
	var none *calling.Webhooks // never made: left out, not a panic at the scrape
	if _, err := prometheus.New(prometheus.Config{Webhooks: none}); !errors.Is(err, prometheus.ErrNoSource) {
		t.Fatalf("New with a nil *calling.Webhooks: %v", err)
	}
	st := newStack(t)
	var noWaker *push.Waker
	c, err := prometheus.New(prometheus.Config{Tokens: st.tokens, Push: noWaker})
	if err != nil {
		t.Fatal(err)
	}
	st.requestToken(apiSecret)
	url, _ := serve(t, c)
	m := scrape(t, url)
	for name := range m {
		if !strings.HasPrefix(name, "switchboard_oauth_tokens_") {
			t.Errorf("a token-only collector exports %s", name)
		}
	}
	if v := must(t, m, "switchboard_oauth_tokens_issued_total"); v != 1 {
		t.Fatalf("issued %v, want 1", v)
	}
}
