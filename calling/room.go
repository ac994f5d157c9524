package calling

import (
	"sync"

	"github.com/coder/websocket"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/rooms"
)

type roomKey struct{ account, session string }

type trackKey struct{ participant, alias string }

// room is the live side of one session on this node: the connected peers
// and the tracks they publish. Safe for concurrent use; lists are copied
// under the lock and used after unlocking.
type room struct {
	key roomKey

	mu     sync.Mutex
	call   bool               // the session of a 1:1 call: its end does not close connections
	callID string             // that call's id
	peers  map[string]*member // participant id → its live connection
	tracks map[trackKey]*pubTrack
}

// member is a connection in the room with who it is, fixed when it
// joined: other goroutines read these, never the peer's own fields (its
// loop changes them when it leaves and joins again).
type member struct {
	p             *peer
	pid, identity string
	recording     string // the recording option asked for on join
}

func newRoom(k roomKey) *room {
	return &room{key: k, peers: make(map[string]*member), tracks: make(map[trackKey]*pubTrack)}
}

// add registers p (called on p's loop) and returns the connection it
// replaces, if any.
func (r *room) add(p *peer) *peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.peers[p.pid]
	r.peers[p.pid] = &member{p: p, pid: p.pid, identity: p.identity, recording: p.st.recording}
	if old == nil {
		return nil
	}
	return old.p
}

// remove drops p (if it is still the participant's connection) and its
// tracks, and reports whether it was and whether the room is now empty.
func (r *room) remove(p *peer) (current, empty bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.peers[p.pid]; m != nil && m.p == p {
		current = true
		delete(r.peers, p.pid)
		for k, f := range r.tracks {
			if k.participant == p.pid && f.owner == p {
				delete(r.tracks, k)
			}
		}
	}
	return current, len(r.peers) == 0
}

func (r *room) isEmpty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.peers) == 0
}

func (r *room) snapshot() []*peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*peer, 0, len(r.peers))
	for _, m := range r.peers {
		out = append(out, m.p)
	}
	return out
}

// others returns the members other than self.
func (r *room) others(self *peer) []*member {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*member, 0, len(r.peers))
	for _, m := range r.peers {
		if m.p != self {
			out = append(out, m)
		}
	}
	return out
}

func (r *room) publish(k trackKey, f *pubTrack) {
	r.mu.Lock()
	r.tracks[k] = f
	r.mu.Unlock()
}

func (r *room) unpublish(k trackKey, owner *peer) {
	r.mu.Lock()
	if f, ok := r.tracks[k]; ok && f.owner == owner {
		delete(r.tracks, k)
	}
	r.mu.Unlock()
}

func (r *room) track(k trackKey) *pubTrack {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tracks[k]
}

func (r *room) pokeAll() {
	for _, p := range r.snapshot() {
		p.poke()
	}
}

func (r *room) closeAll(code websocket.StatusCode, reason string) {
	for _, p := range r.snapshot() {
		p.fail(code, reason)
	}
}

func (r *room) isCall() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.call
}

func (r *room) markCall(callID string) {
	r.mu.Lock()
	r.call, r.callID = true, callID
	r.mu.Unlock()
}

// callOf returns the id of the call whose session this is, or "".
func (r *room) callOf() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.callID
}

// dispatch routes room events to the live rooms until the server closes.
func (s *Server) dispatch(events *rooms.Events) {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case e, ok := <-events.C:
			if !ok {
				if s.ctx.Err() != nil {
					return
				}
				// Dropped as a slow consumer: resubscribe and resync everyone.
				s.log.Warn("room events dropped; resynchronising", "err", events.Err())
				events = s.cfg.Rooms.Subscribe(s.ctx)
				for _, r := range s.liveRooms() {
					r.pokeAll()
				}
				continue
			}
			r := s.lookupRoom(roomKey{e.Account, e.SessionID})
			if r == nil {
				continue
			}
			switch e.Type {
			case rooms.SessionEnded:
				if !r.isCall() {
					r.closeAll(protocol.CloseSessionEnded, "session ended")
				}
			default:
				r.pokeAll()
			}
		}
	}
}

func (s *Server) liveRooms() []*room {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		out = append(out, r)
	}
	return out
}

func (s *Server) lookupRoom(k roomKey) *room {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[k]
}

// attach puts p into the room of k (creating the live room), replacing an
// older connection of the same participant.
func (s *Server) attach(k roomKey, p *peer) (*room, *peer) {
	// Added under s.mu, so a detach of the last member cannot drop the
	// room between the lookup and the add (lock order: s.mu, then r.mu).
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[k]
	if !ok {
		r = newRoom(k)
		s.rooms[k] = r
	}
	return r, r.add(p)
}

// detach removes p from its room, drops the room when nobody is left, and
// reports whether p was still its participant's connection (false: a newer
// connection replaced it and holds the participant now).
func (s *Server) detach(r *room, p *peer) (current bool) {
	current, empty := r.remove(p)
	if empty {
		s.mu.Lock()
		gone := r.isEmpty() && s.rooms[r.key] == r
		if gone {
			delete(s.rooms, r.key)
		}
		s.mu.Unlock()
		if gone { // its recording ends with it
			_ = s.stopRecording(r.key, false)
			if !r.isCall() {
				s.releaseRoom(r.key)
			}
		}
	}
	return current
}
