package calling_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/calling/sfu"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// observedTrack is one TrackPublished call.
type observedTrack struct {
	ctx context.Context
	calling.PublishedTrack
}

// observeTracks sets cfg's TrackObserver: each published track is passed
// on the returned channel, after attach (if not nil) has run in the
// observer, as a host would attach its sinks.
func observeTracks(cfg *calling.Config, attach func(calling.PublishedTrack)) chan observedTrack {
	c := make(chan observedTrack, 64)
	cfg.TrackObserver = calling.TrackObserverFunc(func(ctx context.Context, t calling.PublishedTrack) {
		if attach != nil {
			attach(t)
		}
		c <- observedTrack{ctx, t}
	})
	return c
}

// nextTrack waits for the observer to see a track.
func nextTrack(t *testing.T, c <-chan observedTrack) observedTrack {
	t.Helper()
	select {
	case o := <-c:
		return o
	case <-ctxT(t, 10*time.Second).Done():
		t.Fatal("no track observed in 10 s")
	}
	return observedTrack{}
}

// packetSink keeps a copy of each packet it is given.
type packetSink struct {
	c chan rtp.Packet
}

func newPacketSink() *packetSink { return &packetSink{c: make(chan rtp.Packet, 1024)} }

func (s *packetSink) WriteRTP(h *rtp.Header, payload []byte) error {
	p := rtp.Packet{Header: *h, Payload: bytes.Clone(payload)}
	p.CSRC = slices.Clone(h.CSRC)
	select {
	case s.c <- p:
		return nil
	default:
		return fmt.Errorf("test sink full")
	}
}

func (s *packetSink) next(t *testing.T) rtp.Packet {
	t.Helper()
	select {
	case p := <-s.c:
		return p
	case <-ctxT(t, 10*time.Second).Done():
		t.Fatal("no packet at the sink in 10 s")
	}
	return rtp.Packet{}
}

// senderSSRC is the SSRC c sends track with.
func senderSSRC(c *client.Client, track webrtc.TrackLocal) uint32 {
	for _, s := range c.PeerConnection().GetSenders() {
		if s.Track() == track {
			return uint32(s.GetParameters().Encodings[0].SSRC)
		}
	}
	return 0
}

// The Done-means test: a sink attached through Config.TrackObserver
// receives the publisher's packets byte-identical (payload, sequence
// number, timestamp, marker, the publisher's SSRC and payload type) and
// in order, for audio and video; once detached it receives nothing more
// while another sink still does.
func TestSinkReceivesPublishedPackets(t *testing.T) {
	type sinks struct{ first, second *packetSink }
	var mu sync.Mutex
	attached := map[string]sinks{}
	detaches := map[string]func(){}
	var observed chan observedTrack
	e := newEnv(t, func(c *calling.Config) {
		observed = observeTracks(c, func(pt calling.PublishedTrack) {
			s := sinks{newPacketSink(), newPacketSink()}
			detach, err := pt.Track.Attach(s.first)
			if err != nil {
				t.Errorf("attach: %v", err)
				return
			}
			if _, err := pt.Track.Attach(s.second); err != nil {
				t.Errorf("attach: %v", err)
			}
			mu.Lock()
			attached[pt.StreamAlias], detaches[pt.StreamAlias] = s, detach
			mu.Unlock()
		})
	})
	ctx := ctxT(t, 60*time.Second)
	pub := e.dial("pub")
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "pub")
	cam, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "cam", "pub")
	_ = pub.Publish(rooms.AliasMicrophone, mic)
	_ = pub.Publish(rooms.AliasCamera, cam)
	jp, err := pub.Join(ctx, client.JoinRequest{Room: "recorded"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]calling.PublishedTrack{}
	for range 2 {
		o := nextTrack(t, observed)
		seen[o.StreamAlias] = o.PublishedTrack
	}
	for alias, kind := range map[string]webrtc.RTPCodecType{rooms.AliasMicrophone: webrtc.RTPCodecTypeAudio, rooms.AliasCamera: webrtc.RTPCodecTypeVideo} {
		pt := seen[alias]
		if pt.Account != acct || pt.SessionID != jp.SessionID || pt.ParticipantID != jp.ParticipantID || pt.Identity != "pub" ||
			pt.CallID != "" || pt.Kind != kind || pt.Track == nil || pt.Codec.MimeType != pt.Track.Codec().MimeType || pt.Codec.PayloadType != pt.Track.Codec().PayloadType || pt.Codec.PayloadType == 0 {
			t.Fatalf("observed %s: %+v", alias, pt)
		}
	}
	waitConnected(t, pub)

	const n = 50
	packet := func(kind string, i int) *rtp.Packet {
		seq := uint16(65510 + i) // across the wrap
		p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: 4294960000 + uint32(i)*960, Marker: i%3 == 0}}
		if kind == "video" {
			p.Timestamp = 4294900000 + uint32(i/2)*3000 // two packets per frame
			p.Marker = i%2 == 1
		}
		p.Payload = []byte(fmt.Sprintf("%s packet %d %s", kind, i, bytes.Repeat([]byte{byte(i)}, 20+i)))
		return p
	}
	sendBoth := func(from, to int) {
		for i := from; i < to; i++ {
			if err := mic.WriteRTP(packet("audio", i)); err != nil {
				t.Error(err)
			}
			if err := cam.WriteRTP(packet("video", i)); err != nil {
				t.Error(err)
			}
			time.Sleep(5 * time.Millisecond) // pacing, not synchronisation
		}
	}
	go sendBoth(0, n)
	mu.Lock()
	audio, video := attached[rooms.AliasMicrophone], attached[rooms.AliasCamera]
	mu.Unlock()
	for _, tc := range []struct {
		kind  string
		sink  *packetSink
		track *webrtc.TrackLocalStaticRTP
		pt    calling.PublishedTrack
	}{{"audio", audio.first, mic, seen[rooms.AliasMicrophone]}, {"video", video.first, cam, seen[rooms.AliasCamera]}} {
		ssrc := senderSSRC(pub, tc.track)
		for i := range n {
			got, want := tc.sink.next(t), packet(tc.kind, i)
			if got.SequenceNumber != want.SequenceNumber || got.Timestamp != want.Timestamp || got.Marker != want.Marker ||
				!bytes.Equal(got.Payload, want.Payload) || got.SSRC != ssrc || got.PayloadType != uint8(tc.pt.Codec.PayloadType) {
				t.Fatalf("%s packet %d: the sink got %+v %q, sent %+v %q (SSRC %d, payload type %d)", tc.kind, i, got.Header, got.Payload,
					want.Header, want.Payload, ssrc, tc.pt.Codec.PayloadType)
			}
		}
		if tc.pt.Track.SSRC() != ssrc {
			t.Fatalf("%s: Track.SSRC %d, sent with %d", tc.kind, tc.pt.Track.SSRC(), ssrc)
		}
	}
	for _, s := range []*packetSink{audio.second, video.second} { // the second sinks got the same
		for range n {
			s.next(t)
		}
	}

	// Detached, the first sinks get nothing more; the second ones do.
	mu.Lock()
	for _, d := range detaches {
		d()
	}
	mu.Unlock()
	go sendBoth(n, n+10)
	for _, s := range []*packetSink{audio.second, video.second} {
		for i := n; i < n+10; i++ {
			if p := s.next(t); p.SequenceNumber != uint16(65510+i) {
				t.Fatalf("the attached sink got %d, want %d", p.SequenceNumber, uint16(65510+i))
			}
		}
	}
	for _, s := range []*packetSink{audio.first, video.first} {
		if len(s.c) != 0 {
			t.Fatalf("a detached sink got %d packets", len(s.c))
		}
	}
}

// done reports whether ctx has ended within d.
func done(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return true
	case <-time.After(d):
		return false
	}
}

// The observer's context ends when the track is unpublished, and when its
// publisher leaves; the track is closed by then.
func TestTrackObserverContextEnds(t *testing.T) {
	var observed chan observedTrack
	e := newEnv(t, func(c *calling.Config) { observed = observeTracks(c, nil) })
	ctx := ctxT(t, 30*time.Second)
	pub := e.dial("pub")
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "pub")
	cam, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "cam", "pub")
	_ = pub.Publish(rooms.AliasMicrophone, mic)
	_ = pub.Publish(rooms.AliasCamera, cam)
	if _, err := pub.Join(ctx, client.JoinRequest{Room: "ends"}); err != nil {
		t.Fatal(err)
	}
	tracks := map[string]observedTrack{}
	for range 2 {
		o := nextTrack(t, observed)
		tracks[o.StreamAlias] = o
	}
	camera, microphone := tracks[rooms.AliasCamera], tracks[rooms.AliasMicrophone]
	if done(camera.ctx, 0) || done(microphone.ctx, 0) {
		t.Fatal("a context ended before its track")
	}
	if err := pub.Send(protocol.Message{Type: protocol.TypeUnpublish, StreamAlias: rooms.AliasCamera}); err != nil {
		t.Fatal(err)
	}
	if !done(camera.ctx, 10*time.Second) {
		t.Fatal("unpublished, the camera's context did not end")
	}
	select {
	case <-camera.Track.Done():
	default:
		t.Fatal("the camera's context ended before its track")
	}
	if _, err := camera.Track.Attach(newPacketSink()); err == nil {
		t.Fatal("attached to an unpublished track")
	}
	if done(microphone.ctx, 0) {
		t.Fatal("the microphone's context ended with the camera's")
	}
	_ = pub.Close()
	if !done(microphone.ctx, 10*time.Second) {
		t.Fatal("the publisher left, the microphone's context did not end")
	}
	<-microphone.Track.Done()
}

// A call's tracks carry its id; its end (the connections stay) ends their
// contexts.
func TestTrackObserverInACall(t *testing.T) {
	var observed chan observedTrack
	e := newEnv(t, func(c *calling.Config) { observed = observeTracks(c, nil) })
	alice, bob := e.phone("alice"), e.phone("bob")
	withMic(t, alice)
	withMic(t, bob)
	ctx := ctxT(t, 30*time.Second)
	id, err := alice.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	incoming(t, bob)
	if err := bob.Accept(id, protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	var tracks []observedTrack
	who := map[string]bool{}
	for range 2 {
		o := nextTrack(t, observed)
		if o.CallID != id || o.Kind != webrtc.RTPCodecTypeAudio {
			t.Fatalf("observed %+v in call %s", o.PublishedTrack, id)
		}
		who[o.Identity] = true
		tracks = append(tracks, o)
	}
	if !who["alice"] || !who["bob"] {
		t.Fatalf("observed the tracks of %v", who)
	}
	if err := alice.Hangup(id); err != nil {
		t.Fatal(err)
	}
	for _, o := range tracks {
		if !done(o.ctx, 10*time.Second) {
			t.Fatalf("the call ended, %s's context did not", o.Identity)
		}
	}
	select {
	case <-alice.Done():
		t.Fatal("the connection closed with the call")
	default:
	}
}

// A sink that blocks does not stop a PeerConnection subscriber: it
// receives every packet intact while the sink holds the first one, and the
// packets the sink cannot take are dropped for it (Track.Dropped).
func TestBlockedSinkDoesNotStopSubscribers(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	blocked := make(chan struct{})
	var observed chan observedTrack
	e := newEnv(t, func(c *calling.Config) {
		observed = observeTracks(c, func(pt calling.PublishedTrack) {
			_, _ = pt.Track.Attach(sfu.SinkFunc(func(*rtp.Header, []byte) error {
				once.Do(func() { close(blocked) })
				<-release // the sink's bug: it blocks
				return nil
			}))
		})
	})
	t.Cleanup(func() { close(release) }) // before the server closes
	ctx := ctxT(t, 30*time.Second)
	sub := e.dial("sub")
	if _, err := sub.Join(ctx, client.JoinRequest{Room: "blocked"}); err != nil {
		t.Fatal(err)
	}
	pub := e.dial("pub")
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "pub")
	_ = pub.Publish(rooms.AliasMicrophone, mic)
	jp, err := pub.Join(ctx, client.JoinRequest{Room: "blocked"})
	if err != nil {
		t.Fatal(err)
	}
	o := nextTrack(t, observed)
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sendOpus(sendCtx, mic)
	tr := waitTrack(t, sub, jp.ParticipantID)
	select {
	case <-blocked:
	case <-ctx.Done():
		t.Fatal("the sink was never called")
	}
	readIntact(t, tr, 100) // 2 s of audio; the sink's queue holds 0.6 s
	if o.Track.Dropped() == 0 {
		t.Fatal("nothing dropped for the blocked sink: was it blocked?")
	}
}
