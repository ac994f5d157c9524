package calling_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// A call recorded by policy: the Recorder is asked as the call is answered
// with each party's token option and call option; both parties hear
// recordingStarted; each party's track is handed over before its first
// packet (the recording's first packet is the first one sent); the call's
// end stops it, once, and both hear recordingStopped; the hooks see both,
// in order with the call's states.
func TestRecordCallByPolicy(t *testing.T) {
	rec := newFakeRecorder()
	hooks := &recordingHooks{}
	e := newEnv(t, func(c *calling.Config) { c.Recorder, c.Hooks = rec, hooks })
	alice, bob := e.phoneWith("alice", auth.RecordingAlways), e.phoneWith("bob", auth.RecordingDisabled)
	aMic, bMic := withMic(t, alice), withMic(t, bob)
	al, bl := logEvents(t, alice), logEvents(t, bob)
	ctx := ctxT(t, 30*time.Second)
	id, err := alice.Call(ctx, "bob", protocol.CallOptions{Audio: true, Recording: "AUDIO"})
	if err != nil {
		t.Fatal(err)
	}
	bl.wait(t, "incoming", 1, isType(protocol.TypeIncoming))
	if err := bob.Accept(id, protocol.CallOptions{Audio: true, Recording: "AUDIO_AND_VIDEO"}); err != nil {
		t.Fatal(err)
	}
	req := rec.nextRequest(t)
	want := []calling.RecordingParty{
		{Identity: "alice", Option: auth.RecordingAlways, CallOption: "AUDIO"},
		{Identity: "bob", Option: auth.RecordingDisabled, CallOption: "AUDIO_AND_VIDEO"},
	}
	if req.CallID != id || req.SessionID == "" || req.Account != acct || req.OnDemand || !slices.Equal(req.Parties, want) {
		t.Fatalf("request %+v, want call %s with parties %+v", req, id, want)
	}
	r := rec.nextRecording(t)
	for _, l := range []*eventLog{al, bl} {
		m := l.wait(t, "recordingStarted", 1, isType(protocol.TypeRecordingStarted))
		if m.CallID != id || m.RecordingType != "AUDIO" || m.SessionID != "" {
			t.Fatalf("recordingStarted %+v", m)
		}
		l.wait(t, "confirmed", 1, isState(protocol.StateConfirmed))
	}
	// Media flows only once both transports are up: the first packet sent
	// from now on is the first the recording gets.
	waitConnected(t, alice)
	waitConnected(t, bob)
	for _, mic := range []*webrtc.TrackLocalStaticRTP{aMic, bMic} {
		for i := range 5 {
			_ = mic.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(1000 + i), Timestamp: uint32(i * 960)}, Payload: opusFrame(uint32(i))})
		}
	}
	who := map[string]bool{}
	for range 2 {
		tr := r.nextTrack(t)
		if tr.CallID != id || tr.SessionID != req.SessionID || tr.Kind != webrtc.RTPCodecTypeAudio {
			t.Fatalf("track %+v", tr.PublishedTrack)
		}
		who[tr.Identity] = true
		if p := tr.sink.next(t); p.SequenceNumber != 1000 {
			t.Fatalf("%s's recording starts at packet %d, sent from 1000", tr.Identity, p.SequenceNumber)
		}
	}
	if !who["alice"] || !who["bob"] {
		t.Fatalf("tracks of %v", who)
	}
	if err := e.srv.StopRecording(ctx, calling.RecordingTarget{Account: acct, CallID: id}); !errors.Is(err, calling.ErrRecordingAutomatic) {
		t.Fatalf("stopping a recording the policy started: %v", err)
	}
	if err := alice.Hangup(id); err != nil {
		t.Fatal(err)
	}
	r.waitStopped(t)
	for _, l := range []*eventLog{al, bl} {
		m := l.wait(t, "recordingStopped", 1, isType(protocol.TypeRecordingStopped))
		if m.CallID != id {
			t.Fatalf("recordingStopped %+v", m)
		}
		if n := l.count(isType(protocol.TypeRecordingStarted)); n != 1 {
			t.Fatalf("%d recordingStarted", n)
		}
	}
	waitFor(t, func() bool { return len(hooks.snapshot()) >= 7 })
	eq(t, "hooks", hooks.snapshot(), "call connecting", "call ringing", "call accepted",
		"recording started AUDIO call=true session=true onDemand=false", "call confirmed", "call ended",
		"recording stopped AUDIO call=true session=true onDemand=false")
	if n := r.stopCount(); n != 1 {
		t.Fatalf("stopped %d times", n)
	}
}

// A room: a join after which nobody triggers recording records nothing;
// the join of a participant whose token says ALWAYS starts it, with the
// tracks already published; a later participant hears recordingStarted
// right after joined and its track is recorded too; the room's end stops it.
func TestRecordRoomByPolicy(t *testing.T) {
	rec := newFakeRecorder()
	e := newEnv(t, func(c *calling.Config) { c.Recorder = rec })
	ctx := ctxT(t, 30*time.Second)
	join := func(identity string, opt auth.RecordingOption, asked string) (*client.Client, *eventLog, *protocol.Message) {
		g := roomGrants
		g.Recording = opt
		c := e.dialToken(e.token(identity, g))
		mic, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic", identity)
		_ = c.Publish(rooms.AliasMicrophone, mic)
		l := logEvents(t, c)
		j, err := c.Join(ctx, client.JoinRequest{Room: "rec", Recording: asked})
		if err != nil {
			t.Fatal(err)
		}
		return c, l, j
	}
	a, al, ja := join("ann", auth.RecordingDisabled, "AUDIO")
	if req := rec.nextRequest(t); len(req.Parties) != 1 || req.Parties[0].Option != auth.RecordingDisabled || req.Parties[0].CallOption != "AUDIO" ||
		req.Parties[0].ParticipantID != ja.ParticipantID || req.CallID != "" || req.SessionID != ja.SessionID {
		t.Fatalf("first request %+v", req)
	}
	waitConnected(t, a) // ann's track is published
	b, bl, jb := join("ben", auth.RecordingAlways, "")
	req := rec.nextRequest(t)
	if len(req.Parties) != 2 {
		t.Fatalf("second request %+v", req)
	}
	r := rec.nextRecording(t)
	for _, l := range []*eventLog{al, bl} {
		if m := l.wait(t, "recordingStarted", 1, isType(protocol.TypeRecordingStarted)); m.SessionID != ja.SessionID || m.RecordingType != "AUDIO" || m.CallID != "" {
			t.Fatalf("recordingStarted %+v", m)
		}
	}
	got := map[string]bool{}
	for range 2 {
		got[r.nextTrack(t).ParticipantID] = true
	}
	if !got[ja.ParticipantID] || !got[jb.ParticipantID] {
		t.Fatalf("recorded tracks of %v", got)
	}
	c, cl, jc := join("cyd", "", "")
	cl.wait(t, "recordingStarted", 1, isType(protocol.TypeRecordingStarted))
	if tr := r.nextTrack(t); tr.ParticipantID != jc.ParticipantID {
		t.Fatalf("third track of %s", tr.ParticipantID)
	}
	select {
	case req := <-rec.reqs:
		t.Fatalf("asked again while recording: %+v", req)
	default:
	}
	if err := e.srv.StopRecording(ctx, calling.RecordingTarget{Account: acct, SessionID: ja.SessionID}); !errors.Is(err, calling.ErrRecordingAutomatic) {
		t.Fatalf("on-demand stop of an automatic recording: %v", err)
	}
	_ = c.Close()
	_ = b.Close()
	<-c.Done()
	<-b.Done()
	if r.stopCount() != 0 {
		t.Fatal("stopped while people are in the room")
	}
	_ = a.Close() // the last one out: the room ends, and its recording
	r.waitStopped(t)
}

// On demand: a call nobody's token records is recorded when the REST API
// asks (Server.StartRecording), both parties hear it start and stop, its
// tracks are handed over; a second start is refused; stopping twice is
// ErrNotRecording; the Recorder's refusal comes back as it is; unknown
// targets and types are refused.
func TestRecordOnDemand(t *testing.T) {
	rec := newFakeRecorder()
	hooks := &recordingHooks{}
	e := newEnv(t, func(c *calling.Config) { c.Recorder, c.Hooks = rec, hooks })
	alice, bob := e.phoneWith("alice", auth.RecordingOnDemand), e.phoneWith("bob", "")
	withMic(t, alice)
	withMic(t, bob)
	al, bl := logEvents(t, alice), logEvents(t, bob)
	ctx := ctxT(t, 30*time.Second)
	if _, err := e.srv.StartRecording(ctx, calling.RecordingTarget{Account: acct, CallID: "c-none"}, "AUDIO"); !errors.Is(err, calling.ErrRecordingTargetNotFound) {
		t.Fatalf("unknown call: %v", err)
	}
	id, err := alice.Call(ctx, "bob", protocol.CallOptions{Audio: true})
	if err != nil {
		t.Fatal(err)
	}
	bl.wait(t, "incoming", 1, isType(protocol.TypeIncoming))
	if _, err := e.srv.StartRecording(ctx, calling.RecordingTarget{Account: acct, CallID: id}, "AUDIO"); !errors.Is(err, calling.ErrRecordingTargetNotFound) {
		t.Fatalf("a ringing call: %v", err)
	}
	if err := bob.Accept(id, protocol.CallOptions{Audio: true}); err != nil {
		t.Fatal(err)
	}
	if req := rec.nextRequest(t); req.OnDemand {
		t.Fatal("the answer's decision is not on demand")
	}
	for _, l := range []*eventLog{al, bl} {
		l.wait(t, "confirmed", 1, isState(protocol.StateConfirmed))
	}
	target := calling.RecordingTarget{Account: acct, CallID: id}
	if _, err := e.srv.StartRecording(ctx, target, "VIDEO"); !errors.Is(err, calling.ErrRecordingType) {
		t.Fatalf("type VIDEO: %v", err)
	}
	if _, err := e.srv.StartRecording(ctx, calling.RecordingTarget{Account: "other", CallID: id}, "AUDIO"); !errors.Is(err, calling.ErrRecordingTargetNotFound) {
		t.Fatalf("another account's call: %v", err)
	}
	if err := e.srv.StopRecording(ctx, target); !errors.Is(err, calling.ErrNotRecording) {
		t.Fatalf("stop before start: %v", err)
	}
	if typ, err := e.srv.StartRecording(ctx, target, "AUDIO_AND_VIDEO"); err != nil || typ != "AUDIO_AND_VIDEO" {
		t.Fatal(typ, err)
	}
	req := rec.nextRequest(t)
	if !req.OnDemand || req.Type != "AUDIO_AND_VIDEO" || req.CallID != id || len(req.Parties) != 2 || req.Parties[0].ParticipantID == "" {
		t.Fatalf("on-demand request %+v", req)
	}
	r := rec.nextRecording(t)
	for range 2 {
		r.nextTrack(t) // published before the start
	}
	for _, l := range []*eventLog{al, bl} {
		if m := l.wait(t, "recordingStarted", 1, isType(protocol.TypeRecordingStarted)); m.RecordingType != "AUDIO_AND_VIDEO" || m.CallID != id {
			t.Fatalf("recordingStarted %+v", m)
		}
	}
	// The call's session names the call too.
	if _, err := e.srv.StartRecording(ctx, calling.RecordingTarget{Account: acct, SessionID: req.SessionID}, "AUDIO"); !errors.Is(err, calling.ErrAlreadyRecording) {
		t.Fatalf("second start: %v", err)
	}
	if err := e.srv.StopRecording(ctx, target); err != nil {
		t.Fatal(err)
	}
	r.waitStopped(t)
	for _, l := range []*eventLog{al, bl} {
		l.wait(t, "recordingStopped", 1, isType(protocol.TypeRecordingStopped))
	}
	if err := e.srv.StopRecording(ctx, target); !errors.Is(err, calling.ErrNotRecording) {
		t.Fatalf("second stop: %v", err)
	}
	if err := alice.Hangup(id); err != nil {
		t.Fatal(err)
	}
	al.wait(t, "ended", 1, isState(protocol.StateEnded))
	if n := al.count(isType(protocol.TypeRecordingStopped)); n != 1 || r.stopCount() != 1 {
		t.Fatalf("after the call: %d recordingStopped, %d stops", n, r.stopCount())
	}
	waitFor(t, func() bool { return len(hooks.snapshot()) >= 7 })
	eq(t, "hooks", hooks.snapshot(), "call connecting", "call ringing", "call accepted", "call confirmed",
		"recording started AUDIO_AND_VIDEO call=true session=true onDemand=true",
		"recording stopped AUDIO_AND_VIDEO call=true session=true onDemand=true", "call ended")

	// A room where the only participant's token says DISABLED: the
	// Recorder refuses, and its error comes back. Asked while the join's
	// own decision is under way, the request waits for it (it records
	// nothing), rather than being told the room is being recorded.
	rec.hold = make(chan struct{})
	g := roomGrants
	g.Recording = auth.RecordingDisabled
	solo := e.dialToken(e.token("solo", g))
	j, err := solo.Join(ctx, client.JoinRequest{Room: "solo"})
	if err != nil {
		t.Fatal(err)
	}
	rec.nextRequest(t) // the join's, held
	refused := make(chan error, 1)
	go func() {
		_, err := e.srv.StartRecording(ctx, calling.RecordingTarget{Account: acct, SessionID: j.SessionID}, "AUDIO")
		refused <- err
	}()
	select {
	case err := <-refused:
		t.Fatalf("answered during the join's decision: %v", err)
	case <-time.After(50 * time.Millisecond): // it waits; this only gives a wrong answer a chance to show
	}
	close(rec.hold)
	if err := <-refused; !errors.Is(err, errFakePolicy) {
		t.Fatalf("refused by the policy: %v", err)
	}
	if _, err := e.srv.StartRecording(ctx, calling.RecordingTarget{Account: acct, SessionID: "s-nobody"}, "AUDIO"); !errors.Is(err, calling.ErrRecordingTargetNotFound) {
		t.Fatalf("an empty session: %v", err)
	}
}

// Without a Recorder nothing changes and on demand is refused.
func TestRecordWithoutRecorder(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxT(t, 10*time.Second)
	if _, err := e.srv.StartRecording(ctx, calling.RecordingTarget{Account: acct, CallID: "c-x"}, "AUDIO"); !errors.Is(err, calling.ErrNoRecorder) {
		t.Fatal(err)
	}
	if err := e.srv.StopRecording(ctx, calling.RecordingTarget{Account: acct, CallID: "c-x"}); !errors.Is(err, calling.ErrNoRecorder) {
		t.Fatal(err)
	}
	// A join with a recording option is accepted; a bad one is not.
	c := e.dial("opt")
	if _, err := c.Join(ctx, client.JoinRequest{Room: "r", Recording: "AUDIO"}); err != nil {
		t.Fatal(err)
	}
	d := e.dial("bad")
	var pe *protocol.Error
	if _, err := d.Join(ctx, client.JoinRequest{Room: "r", Recording: "LOUD"}); !errors.As(err, &pe) || pe.Reason != protocol.ReasonBadMessage {
		t.Fatalf("join with recording LOUD: %v", err)
	}
}

// Webhooks post recording events as "recording", with the body
// docs/webhooks.md shows, in order with the call's other events.
func TestWebhookRecordingEvent(t *testing.T) {
	rc := newReceiver(t, whSecret, nil)
	wh := newWebhooks(t, calling.WebhookConfig{URL: rc.URL})
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	wh.RecordingChanged(context.Background(), calling.RecordingEvent{Account: acct, CallID: "c-1", SessionID: "s-1", Type: "AUDIO", Started: true, At: at})
	wh.CallStateChanged(context.Background(), calling.CallEvent{CallID: "c-1", Account: acct, State: protocol.StateEnded, At: at})
	wh.RecordingChanged(context.Background(), calling.RecordingEvent{Account: acct, SessionID: "s-2", Type: "AUDIO_AND_VIDEO", OnDemand: true, At: at})
	var events []string
	for range 3 {
		d := rc.next(t)
		var body struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal(d.body, &body)
		events = append(events, body.Event+" "+string(body.Data))
	}
	if i, j := slices.IndexFunc(events, func(s string) bool { return strings.Contains(s, `"started":true`) }),
		slices.IndexFunc(events, func(s string) bool { return strings.HasPrefix(s, "call.state") }); i > j {
		t.Fatalf("the call's events out of order: %q", events)
	}
	slices.Sort(events)
	eq(t, "bodies", events,
		`call.state {"callId":"c-1","account":"acct-1","from":"","to":"","state":"ended","options":{"audio":false,"video":false},"at":"2026-11-22T10:00:00Z"}`,
		`recording {"account":"acct-1","callId":"c-1","sessionId":"s-1","recordingType":"AUDIO","started":true,"onDemand":false,"at":"2026-11-22T10:00:00Z"}`,
		`recording {"account":"acct-1","sessionId":"s-2","recordingType":"AUDIO_AND_VIDEO","started":false,"onDemand":true,"at":"2026-11-22T10:00:00Z"}`)
}
