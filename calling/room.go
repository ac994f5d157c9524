package calling

import (
	"sync"

	"github.com/coder/websocket"
)

type roomKey struct{ account, session string }

type trackKey struct{ participant, alias string }

// room is the live side of one session on this node: the connected peers
// and the tracks they publish. Safe for concurrent use; lists are copied
// under the lock and used after unlocking.
type room struct {
	key roomKey

	mu     sync.Mutex
	call   bool             // the session of a 1:1 call: its end does not close connections
	peers  map[string]*peer // participant id → its live connection
	tracks map[trackKey]*forwarder
}

func newRoom(k roomKey) *room {
	return &room{key: k, peers: make(map[string]*peer), tracks: make(map[trackKey]*forwarder)}
}

// add registers p and returns the connection it replaces, if any.
func (r *room) add(p *peer) *peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.peers[p.pid]
	r.peers[p.pid] = p
	return old
}

// remove drops p (if it is still the participant's connection) and its
// tracks, and reports whether the room is now empty.
func (r *room) remove(p *peer) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.peers[p.pid] == p {
		delete(r.peers, p.pid)
		for k, f := range r.tracks {
			if k.participant == p.pid && f.owner == p {
				delete(r.tracks, k)
			}
		}
	}
	return len(r.peers) == 0
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
	for _, p := range r.peers {
		out = append(out, p)
	}
	return out
}

func (r *room) others(self *peer) []*peer {
	all := r.snapshot()
	out := all[:0]
	for _, p := range all {
		if p != self {
			out = append(out, p)
		}
	}
	return out
}

func (r *room) publish(k trackKey, f *forwarder) {
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

func (r *room) track(k trackKey) *forwarder {
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

func (r *room) markCall() {
	r.mu.Lock()
	r.call = true
	r.mu.Unlock()
}
