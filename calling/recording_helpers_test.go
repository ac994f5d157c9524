package calling_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/client"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// fakeRecorder stands for the host's recorder: its policy records AUDIO
// when a party's token says ALWAYS, or on demand when no party's token
// says DISABLED; each recording attaches a packet sink to every track it
// is handed.
type fakeRecorder struct {
	reqs chan calling.RecordingRequest
	recs chan *fakeRecording
	// hold, when set, keeps automatic decisions waiting until it is closed.
	hold chan struct{}
}

func newFakeRecorder() *fakeRecorder {
	return &fakeRecorder{reqs: make(chan calling.RecordingRequest, 16), recs: make(chan *fakeRecording, 16)}
}

var errFakePolicy = errors.New("fake policy: not permitted")

func (f *fakeRecorder) StartRecording(_ context.Context, req calling.RecordingRequest) (calling.Recording, error) {
	f.reqs <- req
	if f.hold != nil && !req.OnDemand {
		<-f.hold
	}
	record := false
	for _, p := range req.Parties {
		record = record || p.Option == auth.RecordingAlways
	}
	if req.OnDemand {
		record = len(req.Parties) > 0
		for _, p := range req.Parties {
			record = record && p.Option != auth.RecordingDisabled
		}
		if !record {
			return nil, errFakePolicy
		}
	}
	if !record {
		return nil, nil
	}
	typ := protocol.RecordingAudio
	if req.OnDemand {
		typ = req.Type
	}
	r := &fakeRecording{typ: typ, tracks: make(chan recordedTrack, 16), stopped: make(chan struct{})}
	f.recs <- r
	return r, nil
}

type recordedTrack struct {
	calling.PublishedTrack
	sink *packetSink
}

type fakeRecording struct {
	typ     string
	tracks  chan recordedTrack
	mu      sync.Mutex
	stops   int
	stopped chan struct{}
}

func (r *fakeRecording) Type() string { return r.typ }

func (r *fakeRecording) RecordTrack(_ context.Context, t calling.PublishedTrack) {
	s := newPacketSink()
	if _, err := t.Track.Attach(s); err != nil {
		return
	}
	r.tracks <- recordedTrack{t, s}
}

func (r *fakeRecording) Stop(context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stops++
	if r.stops == 1 {
		close(r.stopped)
	}
}

func (r *fakeRecording) stopCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stops
}

func (f *fakeRecorder) nextRecording(t *testing.T) *fakeRecording {
	t.Helper()
	select {
	case r := <-f.recs:
		return r
	case <-ctxT(t, 10*time.Second).Done():
		t.Fatal("no recording started in 10 s")
	}
	return nil
}

func (f *fakeRecorder) nextRequest(t *testing.T) calling.RecordingRequest {
	t.Helper()
	select {
	case r := <-f.reqs:
		return r
	case <-ctxT(t, 10*time.Second).Done():
		t.Fatal("the Recorder was not asked in 10 s")
	}
	return calling.RecordingRequest{}
}

func (r *fakeRecording) nextTrack(t *testing.T) recordedTrack {
	t.Helper()
	select {
	case tr := <-r.tracks:
		return tr
	case <-ctxT(t, 10*time.Second).Done():
		t.Fatal("no track handed to the recording in 10 s")
	}
	return recordedTrack{}
}

func (r *fakeRecording) waitStopped(t *testing.T) {
	t.Helper()
	select {
	case <-r.stopped:
	case <-ctxT(t, 10*time.Second).Done():
		t.Fatal("the recording was not stopped in 10 s")
	}
}

// eventLog keeps every event a client gets, so a test can wait for one
// without losing the others.
type eventLog struct {
	mu   sync.Mutex
	seen []protocol.Message
	more chan struct{}
}

func logEvents(t *testing.T, c *client.Client) *eventLog {
	l := &eventLog{more: make(chan struct{}, 1)}
	ctx := ctxT(t, time.Minute)
	go func() {
		for {
			select {
			case m := <-c.Events():
				l.mu.Lock()
				l.seen = append(l.seen, m)
				l.mu.Unlock()
				select {
				case l.more <- struct{}{}:
				default:
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return l
}

// count returns how many events so far match.
func (l *eventLog) count(match func(protocol.Message) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.seen {
		if match(m) {
			n++
		}
	}
	return n
}

// wait waits until n events match and returns the nth.
func (l *eventLog) wait(t *testing.T, what string, n int, match func(protocol.Message) bool) protocol.Message {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	for {
		l.mu.Lock()
		k := 0
		for _, m := range l.seen {
			if match(m) {
				if k++; k == n {
					l.mu.Unlock()
					return m
				}
			}
		}
		l.mu.Unlock()
		select {
		case <-l.more:
		case <-ctx.Done():
			t.Fatalf("waiting for %s", what)
		}
	}
}

func isType(typ string) func(protocol.Message) bool {
	return func(m protocol.Message) bool { return m.Type == typ }
}

func isState(s protocol.CallState) func(protocol.Message) bool {
	return func(m protocol.Message) bool { return m.Type == protocol.TypeCallState && m.State == s }
}

// recordingHooks keeps call states and recording events in the order the
// hooks got them.
type recordingHooks struct {
	calling.NopHooks
	mu     sync.Mutex
	events []string
}

func (h *recordingHooks) CallStateChanged(_ context.Context, e calling.CallEvent) {
	h.add("call " + string(e.State))
}

func (h *recordingHooks) RecordingChanged(_ context.Context, e calling.RecordingEvent) {
	what := "stopped"
	if e.Started {
		what = "started"
	}
	h.add(fmt.Sprintf("recording %s %s call=%v session=%v onDemand=%v", what, e.Type, e.CallID != "", e.SessionID != "", e.OnDemand))
}

func (h *recordingHooks) add(s string) {
	h.mu.Lock()
	h.events = append(h.events, s)
	h.mu.Unlock()
}

func (h *recordingHooks) snapshot() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

var _ calling.RecordingHooks = (*recordingHooks)(nil)

func (e *env) phoneWith(identity string, opt auth.RecordingOption) *client.Client {
	e.t.Helper()
	g := callGrants
	g.Recording = opt
	return e.dialToken(e.token(identity, g))
}
