package calling_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/netquality"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// qualityChange is the host's glue between netquality and calling: a
// netquality.Change as the Server takes it.
func qualityChange(c netquality.Change) calling.QualityChange {
	link := func(q netquality.Quality) protocol.LinkQuality {
		return protocol.LinkQuality{Level: q.Level.String(), MOS: q.MOS, Loss: q.LossPercent, JitterMs: q.JitterMs, RTTMs: q.RTTMs}
	}
	return calling.QualityChange{ParticipantID: c.ParticipantID, Direction: c.Direction.String(),
		Level: c.Level.String(), MOS: c.MOS, Uplink: link(c.Uplink), Downlink: link(c.Downlink)}
}

// withQuality gives cfg a netquality.Monitor wired to the Server as a host
// wires it; the returned function sets the Server once it exists.
func withQuality(t testing.TB, cfg *calling.Config) (*netquality.Monitor, func(*calling.Server)) {
	t.Helper()
	var srv atomic.Pointer[calling.Server]
	mon, err := netquality.New(netquality.Config{OnChange: func(c netquality.Change) {
		if s := srv.Load(); s != nil {
			s.NetworkQualityChanged(qualityChange(c))
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Quality = mon
	return mon, func(s *calling.Server) { srv.Store(s) }
}

// qualityView is what one client has been told about network quality.
type qualityView struct {
	mu       sync.Mutex
	self     protocol.Message            // the latest networkQuality
	peer     map[string]protocol.Message // direction → the latest participantNetworkQuality
	worstOwn int                         // the worst own level (rank) since the last reset
	events   int                         // quality messages seen
}

func newQualityView() *qualityView {
	return &qualityView{peer: map[string]protocol.Message{}, worstOwn: 9}
}

func (v *qualityView) see(m protocol.Message) {
	v.mu.Lock()
	defer v.mu.Unlock()
	switch m.Type {
	case protocol.TypeNetworkQuality:
		v.self = m
		v.worstOwn = min(v.worstOwn, protocol.QualityRank(m.Level))
		v.events++
	case protocol.TypeParticipantNetworkQuality:
		v.peer[m.Direction] = m
		v.events++
	}
}

// own is the latest overall level and each direction's.
func (v *qualityView) own() (level, up, down string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.self.Uplink == nil {
		return v.self.Level, "", ""
	}
	return v.self.Level, v.self.Uplink.Level, v.self.Downlink.Level
}

func (v *qualityView) peerLevel(direction string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.peer[direction].Level
}

// resetWorst starts watching the worst own level afresh from the current one.
func (v *qualityView) resetWorst() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.worstOwn = protocol.QualityRank(v.self.Level)
}

func (v *qualityView) worst() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.worstOwn
}

func (v *qualityView) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.events
}

// within polls cond until it holds or d has passed, and returns how long
// it took.
func within(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// fakeMonitor is a calling.QualityMonitor that records what the Server
// does with it.
type fakeMonitor struct {
	mu       sync.Mutex
	calls    []string // "join <pid>", "remove <pid>", "up <pid> <stream>", "down <pid> <stream>", "stop up <pid>", ...
	ticks    []time.Time
	packets  map[string]int // uplink packets by participant
	reports  map[string]int // downlink report packets by participant
	ssrcs    []uint32
	upEvents [][]uint8
}

var _ calling.QualityMonitor = (*fakeMonitor)(nil)

func newFakeMonitor() *fakeMonitor {
	return &fakeMonitor{packets: map[string]int{}, reports: map[string]int{}}
}

func (f *fakeMonitor) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeMonitor) Join(pid, _ string) { f.record("join " + pid) }
func (f *fakeMonitor) Remove(pid string)  { f.record("remove " + pid) }
func (f *fakeMonitor) Tick(at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ticks = append(f.ticks, at)
}

func (f *fakeMonitor) AttachUplink(pid, stream, mime string, rate uint32, events []uint8) (func(*rtp.Header, []byte) error, func(), error) {
	f.record("up " + pid + " " + stream + " " + mime)
	f.mu.Lock()
	f.upEvents = append(f.upEvents, events)
	f.mu.Unlock()
	return func(*rtp.Header, []byte) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.packets[pid]++
		return nil
	}, func() { f.record("stop up " + pid) }, nil
}

func (f *fakeMonitor) AttachDownlink(pid, stream string, ssrc uint32, mime string, rate uint32) (func([]rtcp.Packet) error, func(), error) {
	f.record("down " + pid + " " + stream + " " + mime)
	f.mu.Lock()
	f.ssrcs = append(f.ssrcs, ssrc)
	f.mu.Unlock()
	return func(pkts []rtcp.Packet) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range pkts {
			if rr, ok := p.(*rtcp.ReceiverReport); ok && len(rr.Reports) > 0 && rr.Reports[0].SSRC == ssrc {
				f.reports[pid]++
			}
		}
		return nil
	}, func() { f.record("stop down " + pid) }, nil
}

func (f *fakeMonitor) has(call string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.calls, call)
}

func (f *fakeMonitor) count(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == call {
			n++
		}
	}
	return n
}

func (f *fakeMonitor) stats(pid string) (packets, reports, ticks int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.packets[pid], f.reports[pid], len(f.ticks)
}

// nextQuality returns the next networkQuality or participantNetworkQuality
// message c receives.
func nextQuality(t *testing.T, c *client.Client) protocol.Message {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	for {
		select {
		case m := <-c.Events():
			if m.Type == protocol.TypeNetworkQuality || m.Type == protocol.TypeParticipantNetworkQuality {
				return m
			}
		case <-ctx.Done():
			t.Fatal("no quality message")
		}
	}
}

// The seam, with a recording QualityMonitor: the Server joins each
// participant, attaches an uplink sink to each published track (detached
// while muted) and a downlink report reader to each track it sends, ticks
// the monitor on its clock, and turns the changes the host hands back into
// messages, a hook (here a webhook) and the REST level; after a
// participant has left nothing about it goes out.
func TestQualitySeam(t *testing.T) {
	clk := newFakeClock()
	mon := newFakeMonitor()
	got := make(chan json.RawMessage, 16)
	rc := newReceiver(t, whSecret, func(d delivery, _ *http.Request) int {
		var body struct {
			Event string
			Data  json.RawMessage
		}
		_ = json.Unmarshal(d.body, &body)
		if body.Event == "participant.quality" {
			got <- body.Data
		}
		return 200
	})
	wh := newWebhooks(t, calling.WebhookConfig{URL: rc.URL})
	e := newEnv(t, func(c *calling.Config) { c.Clock, c.Quality, c.Hooks = clk, mon, wh })
	alice, bob := e.dial("alice"), e.dial("bob")
	mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "alice")
	_ = alice.Publish(rooms.AliasMicrophone, mic)
	ctx := ctxT(t, 20*time.Second)
	ja, err := alice.Join(ctx, client.JoinRequest{Room: "q"})
	if err != nil {
		t.Fatal(err)
	}
	jb, err := bob.Join(ctx, client.JoinRequest{Room: "q"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := ja.ParticipantID, jb.ParticipantID
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sendOpus(sendCtx, mic)
	tr := waitTrack(t, bob, a)
	go func() {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
		}
	}()

	stream := a + "/" + rooms.AliasMicrophone
	waitFor(t, func() bool {
		packets, reports, _ := mon.stats(a)
		_, bobReports, _ := mon.stats(b)
		return mon.has("join "+a) && mon.has("join "+b) && packets > 10 && reports == 0 && bobReports > 0
	})
	if !mon.has("up "+a+" "+stream+" audio/opus") || !mon.has("down "+b+" "+stream+" audio/opus") {
		t.Fatalf("attachments %v", mon.calls)
	}
	mon.mu.Lock()
	if len(mon.upEvents) != 1 || len(mon.upEvents[0]) == 0 || len(mon.ssrcs) != 1 || mon.ssrcs[0] != uint32(tr.SSRC()) {
		t.Errorf("uplink telephone events %v; downlink SSRCs %v, bob receives %d", mon.upEvents, mon.ssrcs, tr.SSRC())
	}
	mon.mu.Unlock()

	// Ticks on the Server's clock.
	_, _, ticks := mon.stats(a)
	clk.Advance(time.Second)
	waitFor(t, func() bool { _, _, n := mon.stats(a); return n == ticks+1 })
	mon.mu.Lock()
	if at := mon.ticks[len(mon.ticks)-1]; !at.Equal(clk.Now()) {
		t.Errorf("ticked at %v, the clock reads %v", at, clk.Now())
	}
	mon.mu.Unlock()

	// A change: to alice, to bob, to the webhook, in the REST view.
	poor := protocol.LinkQuality{Level: protocol.QualityPoor, MOS: 3.44, Loss: 10, JitterMs: 2, RTTMs: 40}
	excellent := protocol.LinkQuality{Level: protocol.QualityExcellent, MOS: 4.39, RTTMs: 40}
	e.srv.NetworkQualityChanged(calling.QualityChange{ParticipantID: a, Direction: protocol.DirectionUplink,
		Level: protocol.QualityPoor, MOS: 3.44, Uplink: poor, Downlink: excellent})
	if m := nextQuality(t, alice); m.Type != protocol.TypeNetworkQuality || m.Level != protocol.QualityPoor || m.MOS != 3.44 ||
		*m.Uplink != poor || *m.Downlink != excellent {
		t.Fatalf("alice got %+v", m)
	}
	if m := nextQuality(t, bob); m.Type != protocol.TypeParticipantNetworkQuality || m.ParticipantID != a || m.Identity != "alice" ||
		m.Level != protocol.QualityPoor || m.Direction != protocol.DirectionUplink || m.Uplink != nil {
		t.Fatalf("bob got %+v", m)
	}
	var ev calling.QualityEvent
	select {
	case raw := <-got:
		_ = json.Unmarshal(raw, &ev)
	case <-ctx.Done():
		t.Fatal("no participant.quality webhook")
	}
	if ev.ParticipantID != a || ev.Identity != "alice" || ev.Account != acct || ev.SessionID == "" || ev.Direction != "uplink" ||
		ev.Level != "POOR" || ev.Uplink != poor || !ev.At.Equal(clk.Now()) {
		t.Fatalf("webhook %+v", ev)
	}
	if level, ok := e.srv.NetworkQuality(acct, a); !ok || level != protocol.QualityPoor {
		t.Fatalf("NetworkQuality = %q %v", level, ok)
	}
	if _, ok := e.srv.NetworkQuality("other-account", a); ok {
		t.Fatal("another account reads the level")
	}
	if _, ok := e.srv.NetworkQuality(acct, b); ok {
		t.Fatal("a level for bob, who was never scored")
	}

	// Muting detaches the uplink; unmuting measures afresh.
	if err := alice.Mute(rooms.AliasMicrophone, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return mon.has("stop up " + a) })
	_ = alice.Mute(rooms.AliasMicrophone, false)
	waitFor(t, func() bool { return mon.count("up "+a+" "+stream+" audio/opus") == 2 })

	// Alice leaves: the monitor forgets her before bob hears she left, and
	// a change about her that comes late reaches nobody (bob's own change,
	// sent after it, is the next quality message he gets).
	_ = alice.Close()
	waitEvent(t, bob, protocol.TypeParticipantLeft, a)
	if !mon.has("remove " + a) {
		t.Fatalf("not removed before participantLeft: %v", mon.calls)
	}
	e.srv.NetworkQualityChanged(calling.QualityChange{ParticipantID: a, Direction: protocol.DirectionUplink, Level: protocol.QualityBad, Uplink: poor, Downlink: poor})
	e.srv.NetworkQualityChanged(calling.QualityChange{ParticipantID: b, Direction: protocol.DirectionDownlink, Level: protocol.QualityGood, Uplink: excellent, Downlink: excellent})
	if m := nextQuality(t, bob); m.Type != protocol.TypeNetworkQuality || m.Level != protocol.QualityGood {
		t.Fatalf("after alice left, bob got %+v", m)
	}
	if _, ok := e.srv.NetworkQuality(acct, a); ok {
		t.Fatal("a level for a participant who left")
	}
	waitFor(t, func() bool { return mon.count("stop up "+a) == 2 && mon.has("stop down "+b) })

	// Closing the server ends its ticker.
	e.close()
	_, _, ticks = mon.stats(a)
	clk.Advance(5 * time.Second)
	if _, _, n := mon.stats(a); n != ticks {
		t.Fatalf("%d ticks after Close", n-ticks)
	}
}

// A muted participant is not scored as poor: two muted participants get no
// quality message at all; once alice unmutes both hear of her network;
// and a muted stretch in the middle of the call (2 s of sequence numbers
// the server never forwarded) is no loss for anyone. Real time: about 11 s
// (run by TestQuality beside the simulated-network scenarios).
func testQualityMuted(t *testing.T) {
	var setServer func(*calling.Server)
	e := newEnv(t, func(c *calling.Config) { _, setServer = withQuality(t, c) })
	setServer(e.srv)
	aliceView, bobView := newQualityView(), newQualityView()
	alice := e.dialConfig(client.Config{Token: e.token("alice", roomGrants), OnMessage: aliceView.see})
	bob := e.dialConfig(client.Config{Token: e.token("bob", roomGrants), OnMessage: bobView.see})
	aMic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "alice")
	bMic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", "bob")
	_ = alice.Publish(rooms.AliasMicrophone, aMic)
	_ = bob.Publish(rooms.AliasMicrophone, bMic)
	_ = alice.Mute(rooms.AliasMicrophone, true) // join muted
	_ = bob.Mute(rooms.AliasMicrophone, true)
	ctx := ctxT(t, 30*time.Second)
	ja, err := alice.Join(ctx, client.JoinRequest{Room: "muted"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Join(ctx, client.JoinRequest{Room: "muted"}); err != nil {
		t.Fatal(err)
	}
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	go sendOpus(sendCtx, aMic) // both send; the server forwards nothing while muted
	go sendOpus(sendCtx, bMic)

	// 3.5 s: three ticks and more, with media sent and nothing forwarded.
	quiet := time.Now().Add(3500 * time.Millisecond)
	for time.Now().Before(quiet) {
		if n := aliceView.count() + bobView.count(); n != 0 {
			t.Fatalf("%d quality messages while everyone is muted", n)
		}
		time.Sleep(50 * time.Millisecond)
	}

	_ = alice.Mute(rooms.AliasMicrophone, false)
	tr := waitTrack(t, bob, ja.ParticipantID)
	go func() {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
		}
	}()
	took := within(t, 6*time.Second, "alice's uplink and bob's downlink scored", func() bool {
		_, up, _ := aliceView.own()
		_, _, down := bobView.own()
		return up == protocol.QualityExcellent && down == protocol.QualityExcellent &&
			bobView.peerLevel(protocol.DirectionUplink) == protocol.QualityExcellent
	})
	t.Logf("after unmuting: EXCELLENT in %v", took)
	if _, _, down := aliceView.own(); down != "" && down != protocol.QualityUnknown {
		t.Errorf("alice's downlink scored %s though bob sent nothing", down)
	}

	// Mute for 3 s, then unmute: no level drops (a muted stretch is not
	// loss, on alice's uplink or on bob's downlink).
	aliceView.resetWorst()
	bobView.resetWorst()
	_ = alice.Mute(rooms.AliasMicrophone, true)
	time.Sleep(2 * time.Second) // the muted stretch itself is what is tested
	_ = alice.Mute(rooms.AliasMicrophone, false)
	settle := time.Now().Add(4 * time.Second)
	for time.Now().Before(settle) {
		if aliceView.worst() < protocol.QualityRank(protocol.QualityExcellent) || bobView.worst() < protocol.QualityRank(protocol.QualityExcellent) ||
			bobView.peerLevel(protocol.DirectionUplink) != protocol.QualityExcellent {
			_, aUp, _ := aliceView.own()
			_, _, bDown := bobView.own()
			t.Fatalf("after a muted stretch: alice's uplink %s, bob's downlink %s, bob hears alice's uplink %s", aUp, bDown, bobView.peerLevel(protocol.DirectionUplink))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
