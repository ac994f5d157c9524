package calling

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// recordingStartTimeout bounds Recorder.StartRecording.
const recordingStartTimeout = 10 * time.Second

// liveRecording is the recording of one call or room on this node, from
// the moment a start is decided on until it stops. Lock order: Call.mu,
// then recordings.mu, then liveRecording.mu; under mu nothing else is
// taken but a peer's outgoing queue and the hook queue.
type liveRecording struct {
	key      roomKey
	callID   string
	onDemand bool

	mu        sync.Mutex
	rec       Recording // nil while the Recorder decides
	typ       string
	again     bool // a room's join came while the Recorder decided: decide again
	announced bool // participants told and hooks called: the stop is announced too
	stopped   bool
	tracks    map[*pubTrack]bool // handed to the recording
	told      map[*peer]bool     // sent recordingStarted

	decided     chan struct{} // closed once the Recorder has answered for good
	decidedOnce sync.Once
}

// decide marks the decision on lr taken (a recording, or nothing).
func (lr *liveRecording) decide() { lr.decidedOnce.Do(func() { close(lr.decided) }) }

// recordings holds the live recordings of the Server, by session.
type recordings struct {
	mu   sync.Mutex
	live map[roomKey]*liveRecording
}

// claimRecording registers a recording of key about to be decided on and
// returns it, or returns nil and the recording being decided on or running
// (a room's automatic start then decides again when the current decision
// records nothing).
func (s *Server) claimRecording(key roomKey, callID string, onDemand bool) (claimed, busy *liveRecording) {
	s.recs.mu.Lock()
	defer s.recs.mu.Unlock()
	if lr := s.recs.live[key]; lr != nil {
		lr.mu.Lock()
		if lr.rec == nil && !onDemand {
			lr.again = true
		}
		lr.mu.Unlock()
		return nil, lr
	}
	lr := &liveRecording{key: key, callID: callID, onDemand: onDemand, tracks: map[*pubTrack]bool{}, told: map[*peer]bool{},
		decided: make(chan struct{})}
	s.recs.live[key] = lr
	return lr, nil
}

// unclaim drops lr after a decision that records nothing, unless a join
// asked to decide again (it reports that).
func (s *Server) unclaim(lr *liveRecording) (again bool) {
	s.recs.mu.Lock()
	defer s.recs.mu.Unlock()
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if lr.again && !lr.stopped {
		lr.again = false
		return true
	}
	lr.stopped = true
	if s.recs.live[lr.key] == lr {
		delete(s.recs.live, lr.key)
	}
	lr.decide()
	return false
}

func (s *Server) startRecorder(req RecordingRequest) (Recording, error) {
	ctx, cancel := context.WithTimeout(s.ctx, recordingStartTimeout)
	defer cancel()
	rec, err := s.cfg.Recorder.StartRecording(ctx, req)
	if rec != nil && err != nil {
		s.log.Warn("recorder returned a recording and an error; stopping it", "session", req.SessionID, "err", err)
		s.stopAsync(rec)
		rec = nil
	}
	return rec, err
}

// recordCall decides, as call c is answered (c.mu held), whether it is
// recorded, and then runs enter (which sets up the parties' media) if the
// call is still answered: so a call recorded by policy is recorded from its
// first packet.
func (s *Server) recordCall(c *Call, enter func()) {
	if s.cfg.Recorder == nil {
		enter()
		return
	}
	lr, _ := s.claimRecording(roomKey{c.Account, c.sessionID}, c.ID, false)
	if lr == nil {
		enter()
		return
	}
	req := RecordingRequest{Account: c.Account, CallID: c.ID, SessionID: c.sessionID, Parties: c.recordingParties()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		rec, err := s.startRecorder(req)
		if rec == nil {
			s.log.Debug("call not recorded", "call", c.ID, "err", err)
			s.unclaim(lr)
		} else {
			s.recordingStarted(lr, rec)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.state == protocol.StateAccepted {
			enter()
		}
	}()
}

// recordRoom decides, after a participant joined room r, whether the room
// is recorded, when it is not already.
func (s *Server) recordRoom(r *room) {
	if s.cfg.Recorder == nil || r.isCall() {
		return
	}
	lr, _ := s.claimRecording(r.key, "", false)
	if lr == nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			req := RecordingRequest{Account: r.key.account, SessionID: r.key.session, Parties: r.recordingParties()}
			rec, err := s.startRecorder(req)
			if rec != nil {
				s.recordingStarted(lr, rec)
				return
			}
			s.log.Debug("room not recorded", "session", r.key.session, "err", err)
			if !s.unclaim(lr) {
				return
			}
		}
	}()
}

// recordingStarted puts a started recording in place: the tracks of the
// call or room are handed to it, its participants told, the hooks called.
// A recording stopped while it was being started is stopped at once.
func (s *Server) recordingStarted(lr *liveRecording, rec Recording) {
	defer lr.decide()
	lr.mu.Lock()
	if lr.stopped {
		lr.mu.Unlock()
		s.stopAsync(rec)
		return
	}
	lr.rec, lr.typ = rec, rec.Type()
	lr.mu.Unlock()
	// Tracks and participants present now; later ones are handed over and
	// told as they come (recordTrack, tellRecording).
	var audience []*peer
	if r := s.lookupRoom(lr.key); r != nil {
		for _, pt := range r.allTracks() {
			s.handTrack(lr, pt)
		}
		audience = r.snapshot()
	}
	if lr.callID != "" {
		if c, ok := s.Call(lr.key.account, lr.callID); ok {
			c.mu.Lock()
			audience = append(audience, c.parties()...)
			c.mu.Unlock()
		}
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if lr.stopped {
		return // stopRecording told and hooked, and stopped rec
	}
	lr.announced = true
	for _, p := range audience {
		lr.tell(p)
	}
	s.recordingHook(lr, true)
}

// tell sends recordingStarted to p once; lr.mu held.
func (lr *liveRecording) tell(p *peer) {
	if !lr.announced || lr.stopped || lr.told[p] {
		return
	}
	lr.told[p] = true
	m := &protocol.Message{Type: protocol.TypeRecordingStarted, RecordingType: lr.typ}
	lr.target(m)
	p.send(m)
}

// target names the call or the room in m.
func (lr *liveRecording) target(m *protocol.Message) {
	if lr.callID != "" {
		m.CallID = lr.callID
	} else {
		m.SessionID = lr.key.session
	}
}

func (s *Server) liveRecording(key roomKey) *liveRecording {
	if s.cfg.Recorder == nil {
		return nil
	}
	s.recs.mu.Lock()
	defer s.recs.mu.Unlock()
	return s.recs.live[key]
}

// tellRecording tells p, who has just joined the session of key, that it
// is being recorded.
func (s *Server) tellRecording(key roomKey, p *peer) {
	if lr := s.liveRecording(key); lr != nil {
		lr.mu.Lock()
		lr.tell(p)
		lr.mu.Unlock()
	}
}

// recordTrack hands a track just published in the session of key to its
// recording, if it has one. It runs on the publisher's loop, before the
// track's first packet.
func (s *Server) recordTrack(key roomKey, pt *pubTrack) {
	if lr := s.liveRecording(key); lr != nil {
		s.handTrack(lr, pt)
	}
}

// handTrack gives pt to lr's recording once.
func (s *Server) handTrack(lr *liveRecording, pt *pubTrack) {
	lr.mu.Lock()
	rec := lr.rec
	if rec == nil || lr.stopped || lr.tracks[pt] || pt.ctx == nil || pt.ctx.Err() != nil {
		lr.mu.Unlock()
		return
	}
	lr.tracks[pt] = true
	lr.mu.Unlock()
	rec.RecordTrack(pt.ctx, pt.info)
}

// stopRecording ends the recording of key: its participants are told, the
// hooks called, and the Recording stopped on a goroutine of the Server's.
// onDemand refuses a recording the policy started (ErrRecordingAutomatic)
// and one still being decided on (ErrNotRecording).
func (s *Server) stopRecording(key roomKey, onDemand bool) error {
	if s.cfg.Recorder == nil {
		return ErrNotRecording
	}
	s.recs.mu.Lock()
	defer s.recs.mu.Unlock()
	lr := s.recs.live[key]
	if lr == nil {
		return ErrNotRecording
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	switch {
	case onDemand && lr.rec == nil:
		return ErrNotRecording
	case onDemand && !lr.onDemand:
		return ErrRecordingAutomatic
	}
	delete(s.recs.live, key)
	lr.stopped = true
	if lr.rec == nil {
		return nil // recordingStarted stops it when the Recorder answers
	}
	if lr.announced {
		for p := range lr.told {
			m := &protocol.Message{Type: protocol.TypeRecordingStopped}
			lr.target(m)
			p.send(m)
		}
		s.recordingHook(lr, false)
	}
	s.stopAsync(lr.rec)
	return nil
}

// stopAsync stops rec on a goroutine of the Server's, which Close waits for.
func (s *Server) stopAsync(rec Recording) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		rec.Stop(context.WithoutCancel(s.ctx))
	}()
}

// stopAllRecordings stops what is left when the server closes.
func (s *Server) stopAllRecordings() {
	s.recs.mu.Lock()
	var keys []roomKey
	for k := range s.recs.live {
		keys = append(keys, k)
	}
	s.recs.mu.Unlock()
	for _, k := range keys {
		_ = s.stopRecording(k, false)
	}
}

// recordingHook reports lr starting or stopping to hooks that implement
// RecordingHooks; lr.mu held.
func (s *Server) recordingHook(lr *liveRecording, started bool) {
	if _, ok := s.cfg.Hooks.(RecordingHooks); !ok {
		return
	}
	ev := RecordingEvent{Account: lr.key.account, CallID: lr.callID, SessionID: lr.key.session, Type: lr.typ,
		Started: started, OnDemand: lr.onDemand, At: s.clock.Now()}
	s.hook(func(ctx context.Context, h Hooks) {
		if rh, ok := h.(RecordingHooks); ok {
			rh.RecordingChanged(ctx, ev)
		}
	})
}

// StartRecording starts recording a call (answered, not yet ended) or a
// room (with someone connected to it on this node) on demand, at typ
// (protocol.RecordingAudio or protocol.RecordingAudioAndVideo), where the
// Recorder's policy permits, and returns what is recorded (the Recording's
// Type: the policy may lower typ). It is the REST API's POST
// /v1/recordings (the host implements package recording's Controller with
// it). Errors: ErrNoRecorder, ErrRecordingType, ErrRecordingTargetNotFound,
// ErrAlreadyRecording, ErrRecordingRefused (the Recorder started nothing
// and said nothing), or the Recorder's own, as it is.
func (s *Server) StartRecording(ctx context.Context, t RecordingTarget, typ string) (string, error) {
	if s.cfg.Recorder == nil {
		return "", ErrNoRecorder
	}
	if typ != protocol.RecordingAudio && typ != protocol.RecordingAudioAndVideo {
		return "", ErrRecordingType
	}
	key, req, err := s.recordingTarget(t)
	if errors.Is(err, ErrRecordingTargetNotFound) {
		if id, ok, rerr := s.remoteRecording(ctx, rpcStartRecording, t, typ); ok { // on another node
			return id, rerr
		}
	}
	if err != nil {
		return "", err
	}
	req.OnDemand, req.Type = true, typ
	var lr *liveRecording
	for lr == nil {
		var busy *liveRecording
		if lr, busy = s.claimRecording(key, req.CallID, true); lr != nil {
			break
		}
		select { // an automatic decision under way (a join's) may record nothing: wait for it
		case <-busy.decided:
			busy.mu.Lock()
			running := busy.rec != nil && !busy.stopped
			busy.mu.Unlock()
			if running {
				return "", ErrAlreadyRecording
			}
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	rec, err := s.startRecorder(req)
	if rec == nil {
		s.unclaim(lr)
		if err == nil {
			err = ErrRecordingRefused
		}
		return "", err
	}
	recorded := rec.Type()
	s.recordingStarted(lr, rec)
	return recorded, nil
}

// StopRecording stops a recording started on demand (Server.StartRecording)
// of a call or room. Errors: ErrNoRecorder, ErrNotRecording,
// ErrRecordingAutomatic (the policy started it: it runs until the call or
// room ends).
func (s *Server) StopRecording(ctx context.Context, t RecordingTarget) error {
	if s.cfg.Recorder == nil {
		return ErrNoRecorder
	}
	key, _, err := s.recordingTarget(t)
	if errors.Is(err, ErrRecordingTargetNotFound) {
		if _, ok, rerr := s.remoteRecording(ctx, rpcStopRecording, t, ""); ok { // on another node
			return rerr
		}
		return ErrNotRecording
	}
	if err != nil {
		return err
	}
	return s.stopRecording(key, true)
}

// recordingTarget finds the live call or room t names.
func (s *Server) recordingTarget(t RecordingTarget) (roomKey, RecordingRequest, error) {
	if (t.CallID == "") == (t.SessionID == "") {
		return roomKey{}, RecordingRequest{}, ErrRecordingTargetNotFound
	}
	callID := t.CallID
	if t.SessionID != "" {
		r := s.lookupRoom(roomKey{t.Account, t.SessionID})
		if r == nil {
			return roomKey{}, RecordingRequest{}, ErrRecordingTargetNotFound
		}
		if callID = r.callOf(); callID == "" {
			return r.key, RecordingRequest{Account: t.Account, SessionID: t.SessionID, Parties: r.recordingParties()}, nil
		}
	}
	c, ok := s.Call(t.Account, callID)
	if !ok {
		return roomKey{}, RecordingRequest{}, ErrRecordingTargetNotFound
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != protocol.StateAccepted && c.state != protocol.StateConfirmed || c.sessionID == "" {
		return roomKey{}, RecordingRequest{}, ErrRecordingTargetNotFound
	}
	return roomKey{c.Account, c.sessionID}, RecordingRequest{Account: c.Account, CallID: c.ID, SessionID: c.sessionID, Parties: c.recordingParties()}, nil
}

// recordingParties are the call's parties' inputs to the policy; c.mu held.
func (c *Call) recordingParties() []RecordingParty {
	var out []RecordingParty
	if c.caller != nil {
		out = append(out, RecordingParty{ParticipantID: c.pids[c.caller], Identity: c.From,
			Option: c.caller.token.Load().Grants.Recording, CallOption: c.Options.Recording})
	}
	if c.callee != nil {
		out = append(out, RecordingParty{ParticipantID: c.pids[c.callee], Identity: c.To,
			Option: c.callee.token.Load().Grants.Recording, CallOption: c.calleeRecording})
	}
	return out
}

// recordingParties are the inputs to the policy of everyone connected to
// the room.
func (r *room) recordingParties() []RecordingParty {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RecordingParty, 0, len(r.peers))
	for _, m := range r.peers {
		out = append(out, RecordingParty{ParticipantID: m.pid, Identity: m.identity,
			Option: m.p.token.Load().Grants.Recording, CallOption: m.recording})
	}
	return out
}

// allTracks returns the tracks published in the room.
func (r *room) allTracks() []*pubTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*pubTrack, 0, len(r.tracks))
	for _, t := range r.tracks {
		out = append(out, t)
	}
	return out
}
