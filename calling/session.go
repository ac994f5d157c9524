package calling

import (
	"context"
	"slices"
	"strings"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
	"github.com/switchboard-rtc/switchboard/rooms"
)

const maxPublications = 8

func (p *peer) join(m *protocol.Message) error {
	if p.room != nil || p.call != nil {
		return &protocol.Error{Code: 409, Reason: protocol.ReasonAlreadyJoined, Message: "already joined or in a call"}
	}
	if (m.Room == "") == (m.SessionID == "") {
		return badMessage("join needs exactly one of room and sessionId")
	}
	if err := checkPublications(m.Publish); err != nil {
		return err
	}
	if err := m.Options.Validate(); err != nil {
		return err
	}
	if err := p.admitJoin(); err != nil {
		return err
	}
	if addr, err := p.routeJoin(m); err != nil || addr != "" {
		if err != nil {
			return err
		}
		return p.startRelay(relayRoom, addr, m) // another node serves the room
	}
	if err := p.joinHere(m); err != nil {
		if p.srv.cfg.Cluster != nil { // placed here for nothing: give the lease back if the room is not live
			sid := m.SessionID
			if m.Room != "" {
				sid = rooms.RoomSessionID(m.Room)
			}
			p.srv.releaseRoom(roomKey{p.claims.Account, sid})
		}
		return err
	}
	return nil
}

// joinHere joins the room or session m names on this node.
func (p *peer) joinHere(m *protocol.Message) error {
	p.noData = m.DataChannel != nil && !*m.DataChannel
	p.st.recording = ""
	if m.Options != nil {
		p.st.recording = m.Options.Recording // the room's call option of the recording policy
	}
	ctx, mgr, acct := p.ctx, p.srv.cfg.Rooms, p.claims.Account
	pid := p.claims.ParticipantID
	var part *rooms.Participant
	var err error
	if pid == "" {
		// An identity token: a participant lives as long as this connection.
		if err := p.mayJoinRoom(m.Room); err != nil {
			return err
		}
		if part, err = p.createEphemeral(ctx); err != nil {
			return err
		}
		p.st.ephemeral = true
	} else {
		// What an earlier join or departure of this participant could not
		// write goes first, so it cannot undo this join later.
		if err := p.srv.flushStoreWrites(ctx, acct, pid); err != nil {
			return err
		}
		if part, err = mgr.Participant(ctx, acct, pid); err != nil {
			return err
		}
	}
	sid := m.SessionID
	if m.Room != "" {
		if err := p.mayJoinRoom(m.Room); err != nil {
			return err
		}
		s, err := mgr.JoinRoom(ctx, acct, m.Room, part.ID)
		if err != nil {
			// JoinRoom may have joined before it failed (a store whose answer
			// was lost): take the membership back unless it was there before.
			rsid := rooms.RoomSessionID(m.Room)
			p.st.leaveRoom = !slices.Contains(part.Sessions, rsid)
			p.leaveSession(part.ID, rsid)
			return err
		}
		sid, p.st.leaveRoom, p.st.roomName = s.ID, true, m.Room
	} else if _, err := mgr.Receives(ctx, acct, sid, part.ID); err != nil {
		p.leaveSession(part.ID, sid)
		return err // not a member: the REST API decides who is in a session
	}
	if err := p.enterSession(part, sid, m.Publish, m.ID, m.Room); err != nil {
		return err
	}
	return nil
}

// enterSession sets up the PeerConnection in session sid for participant
// part, announces it, and starts negotiating. On error it undoes what the
// caller set up (leaving a room joined by name, an ephemeral participant).
func (p *peer) enterSession(part *rooms.Participant, sid string, pubs []protocol.Publication, reqID, roomName string) error {
	if err := p.mayPublish(pubs, part); err != nil {
		p.leaveSession(part.ID, sid)
		return err
	}
	pc, fb, err := p.newPeerConnection(sid)
	if err != nil {
		p.leaveSession(part.ID, sid)
		return err
	}
	p.pid, p.identity = part.ID, part.Identity
	if p.identity == "" {
		p.identity = part.ID
	}
	p.log = p.srv.log.With("identity", p.claims.Subject, "participant", part.ID, "session", sid)
	p.st.pc, p.st.feedback = pc, fb
	p.st.senders = make(map[trackKey]*outTrack)
	p.st.published = make(map[string]*pubTrack)
	p.st.recv = make(map[*webrtc.RTPReceiver]protocol.Publication)
	p.st.mutes = make(map[string]bool)
	p.st.fwd = make(map[*webrtc.RTPReceiver]*pubTrack)
	p.installCallbacks(pc)
	if !p.noData {
		err = p.openDataChannel(pc)
	}
	if err == nil {
		err = p.addReceivers(pubs)
	}
	if err != nil {
		p.closePeerConnection(pc, fb)
		p.st.pc, p.st.feedback = nil, nil
		p.leaveSession(part.ID, sid)
		return err
	}

	r, replaced := p.srv.attach(roomKey{p.claims.Account, sid}, p)
	p.room = r
	p.inRoom.Store(p.call == nil)
	p.srv.qualityJoin(p, r)
	callID := ""
	if p.call != nil {
		r.markCall(p.call.ID)
		callID = p.call.ID
	}
	if replaced != nil {
		replaced.fail(websocket.StatusPolicyViolation, "replaced by a newer connection")
	}
	var infos []protocol.PeerInfo
	for _, o := range r.others(p) {
		infos = append(infos, protocol.PeerInfo{ParticipantID: o.pid, Identity: o.identity})
		o.p.send(&protocol.Message{Type: protocol.TypeParticipantJoined, ParticipantID: p.pid, Identity: p.identity})
	}
	p.send(&protocol.Message{
		Type: protocol.TypeJoined, ID: reqID, ParticipantID: p.pid, Identity: p.identity, SessionID: sid, Room: roomName, CallID: callID,
		Participants: infos, ICEServers: p.srv.cfg.ICEServers, Status: "connecting",
		Limits: &protocol.ClientLimits{MaxMessageBytes: p.srv.cfg.MaxMessageBytes, MaxDataMessageBytes: p.srv.cfg.MaxDataMessageBytes},
	})
	ev := ParticipantEvent{Account: p.claims.Account, SessionID: sid, ParticipantID: p.pid, Identity: p.identity, Joined: true, At: p.srv.clock.Now()}
	p.srv.hook(func(ctx context.Context, h Hooks) { h.ParticipantChanged(ctx, ev) })
	p.srv.tellRecording(r.key, p)
	p.srv.recordRoom(r)
	p.sync()
	// The data channel and the receivers need an offer even with nothing to
	// send. A PeerConnection with no m-line at all (no data channel, nothing
	// published, nothing yet to receive) cannot be offered: it has no
	// transport to describe, so its first offer waits for sync to add a
	// sender.
	if !p.noData || len(pc.GetTransceivers()) > 0 {
		p.negotiate()
	}
	return nil
}

func pubMedia(kind string) auth.Media {
	if kind == "video" {
		return auth.MediaVideo
	}
	return auth.MediaAudio
}

func checkPublications(pubs []protocol.Publication) error {
	if len(pubs) > maxPublications {
		return badMessage("too many publications")
	}
	seen := map[string]bool{}
	for _, pub := range pubs {
		if pub.Alias == "" || len(pub.Alias) > 64 || seen[pub.Alias] {
			return badMessage("stream aliases must be 1-64 characters and unique")
		}
		if pub.Kind != "audio" && pub.Kind != "video" {
			return badMessage("publication kind must be audio or video")
		}
		seen[pub.Alias] = true
	}
	return nil
}

// createEphemeral creates the participant of a connection with an identity
// token. Its id is chosen first, so that a creation whose answer was lost
// (the store went away) is taken back when the store is back.
func (p *peer) createEphemeral(ctx context.Context) (*rooms.Participant, error) {
	mgr, acct, id := p.srv.cfg.Rooms, p.claims.Account, rooms.NewParticipantID()
	part, err := mgr.CreateParticipant(ctx, acct, rooms.ParticipantSpec{ID: id, Identity: p.claims.Subject, PublishPermissions: p.claims.Grants.Publish})
	if httpx.Unavailable(err) {
		p.srv.writeStore(acct, id, deleteParticipant(mgr, acct, id))
	}
	return part, err
}

// leaveSession undoes a join that failed half-way: the room membership
// it made (leaveRoom) and the ephemeral participant. What the store cannot
// take now is written when it is back (writeStore).
func (p *peer) leaveSession(pid, sid string) {
	mgr, acct := p.srv.cfg.Rooms, p.claims.Account
	var ws []storeWrite
	if p.st.leaveRoom {
		ws = append(ws, removeMember(mgr, acct, sid, pid))
	}
	if p.st.ephemeral {
		ws = append(ws, deleteParticipant(mgr, acct, pid))
	}
	p.srv.writeStore(acct, pid, ws...)
	p.st.leaveRoom, p.st.ephemeral, p.st.roomName = false, false, ""
}

func (p *peer) installCallbacks(pc *webrtc.PeerConnection) {
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		p.send(&protocol.Message{Type: protocol.TypeCandidate, Candidate: &init})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			p.post(func() {
				if p.st.pc != pc {
					return // a session we already left
				}
				if p.call != nil { // the call fails; the signaling connection stays
					p.call.mediaFailed()
					return
				}
				p.fail(protocol.CloseTimeout, "media connection "+s.String())
			})
		case webrtc.PeerConnectionStateConnected:
			p.post(func() {
				if p.st.pc == pc {
					p.st.connected = true
					p.checkMediaReady()
				}
			})
		}
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		p.post(func() { p.onTrack(t, recv) })
	})
}

func (p *peer) addReceivers(pubs []protocol.Publication) error {
	for _, pub := range pubs {
		kind := webrtc.RTPCodecTypeAudio
		if pub.Kind == "video" {
			kind = webrtc.RTPCodecTypeVideo
		}
		tr, err := p.st.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
		if err != nil {
			return err
		}
		p.st.recv[tr.Receiver()] = pub
		p.st.mutes[pub.Alias] = pub.Muted
	}
	return nil
}

// publish announces more tracks; each gets a receiver and an offer.
func (p *peer) publish(pubs []protocol.Publication) error {
	if err := checkPublications(pubs); err != nil {
		return err
	}
	for _, pub := range pubs {
		for _, have := range p.st.recv {
			if have.Alias == pub.Alias {
				return badMessage("stream alias already published")
			}
		}
	}
	if err := p.mayPublish(pubs, nil); err != nil {
		return err
	}
	if len(p.st.recv)+len(pubs) > maxPublications {
		return badMessage("too many publications")
	}
	if err := p.addReceivers(pubs); err != nil {
		return err
	}
	p.negotiate()
	return nil
}

func (p *peer) unpublish(alias string) error {
	f, ok := p.st.published[alias]
	if !ok {
		return &protocol.Error{Code: 404, Reason: protocol.ReasonNotPublished, Message: "no such published stream"}
	}
	delete(p.st.published, alias)
	p.room.unpublish(trackKey{p.pid, alias}, p)
	f.close() // its reader keeps draining the receiver; nothing is forwarded
	p.reportStreams()
	return nil
}

func (p *peer) mute(m *protocol.Message) error {
	if m.Muted == nil {
		return badMessage("mute needs muted")
	}
	if !p.announced(m.StreamAlias) {
		return &protocol.Error{Code: 404, Reason: protocol.ReasonNotPublished, Message: "no such published stream"}
	}
	p.st.mutes[m.StreamAlias] = *m.Muted
	if f, ok := p.st.published[m.StreamAlias]; ok {
		f.SetMuted(*m.Muted)
		if *m.Muted { // a muted stretch is not uplink loss: measure afresh after it
			f.stopUplink(false)
		} else {
			p.measureUplink(f)
		}
	}
	muted := *m.Muted
	p.send(&protocol.Message{Type: protocol.TypeMuted, ID: m.ID, ParticipantID: p.pid, StreamAlias: m.StreamAlias, Muted: &muted})
	for _, o := range p.room.others(p) {
		o.p.send(&protocol.Message{Type: protocol.TypeMuted, ParticipantID: p.pid, StreamAlias: m.StreamAlias, Muted: &muted})
	}
	return nil
}

// announced reports whether alias is a stream this peer announced (in
// join, publish, call or accept), whether or not its media has arrived.
func (p *peer) announced(alias string) bool {
	for _, pub := range p.st.recv {
		if pub.Alias == alias {
			return true
		}
	}
	return false
}

// reportStreams tells rooms what this participant publishes now; rooms
// emits StreamsChanged and every peer of the session re-syncs.
func (p *peer) reportStreams() {
	streams := make([]rooms.Stream, 0, len(p.st.published))
	for alias, f := range p.st.published {
		streams = append(streams, rooms.Stream{Alias: alias, Media: mediaOf(f.Kind())})
	}
	slices.SortFunc(streams, func(a, b rooms.Stream) int { return strings.Compare(a.Alias, b.Alias) })
	p.srv.writeStore(p.claims.Account, p.pid, setStreams(p.srv.cfg.Rooms, p.claims.Account, p.pid, streams))
}

func mediaOf(k webrtc.RTPCodecType) auth.Media {
	if k == webrtc.RTPCodecTypeVideo {
		return auth.MediaVideo
	}
	return auth.MediaAudio
}

// cleanup runs once after the loop ends.
func (p *peer) cleanup() {
	p.srv.goOffline(p)
	if p.homeHeld != nil {
		p.homeHeld()
	}
	p.exitSession()
}

// exitSession leaves the current session: the others are told, the
// participant's streams (and an ephemeral participant) go, the
// PeerConnection closes. The signaling connection stays.
func (p *peer) exitSession() {
	if p.room == nil {
		return
	}
	r := p.room
	current := p.srv.detach(r, p)
	mgr, acct, sid := p.srv.cfg.Rooms, p.claims.Account, r.key.session
	if current { // a replaced connection leaves the participant to its successor
		p.srv.qualityLeave(p) // before participantLeft: no quality event about p follows it
		for _, o := range r.others(p) {
			o.p.send(&protocol.Message{Type: protocol.TypeParticipantLeft, ParticipantID: p.pid, Identity: p.identity})
		}
		ev := ParticipantEvent{Account: acct, SessionID: sid, ParticipantID: p.pid, Identity: p.identity, At: p.srv.clock.Now()}
		p.srv.hook(func(ctx context.Context, h Hooks) { h.ParticipantChanged(ctx, ev) })
	}
	// Written in this order, now or (the store unavailable) when it is back.
	var ws []storeWrite
	switch {
	case !current:
	case p.st.ephemeral:
		ws = append(ws, deleteParticipant(mgr, acct, p.pid))
	case p.st.leaveRoom:
		ws = append(ws, removeMember(mgr, acct, sid, p.pid), setStreams(mgr, acct, p.pid, nil))
	default:
		ws = append(ws, setStreams(mgr, acct, p.pid, nil))
	}
	if r.isCall() { // a call's session ends with its last party, however it left
		ws = append(ws, deleteIfEmpty(mgr, acct, sid))
	}
	p.srv.writeStore(acct, p.pid, ws...)
	r.pokeAll()
	for _, f := range p.st.fwd { // their observers' contexts end
		f.close()
	}
	p.closePeerConnection(p.st.pc, p.st.feedback)
	p.dcMu.Lock()
	p.dc = nil
	p.dcMu.Unlock()
	p.room, p.pid = nil, ""
	p.inRoom.Store(false)
	p.st = peerState{}
}
