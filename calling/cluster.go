package calling

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// Cluster is where the nodes of a deployment agree on who serves what
// (adapters/redis.Nodes.Cluster implements it). Keys are leases: a room
// ("room:" and its session id) and the home of an identity that may receive
// calls ("identity:" and the identity), each per account. A lease belongs
// to one live node at a time and lapses with it; addr is the URL of that
// node's signaling endpoint (for example http://10.0.0.2:8080/v1/signal),
// where the other nodes relay connections and requests. Implementations
// must be safe for concurrent use and answer in milliseconds: a join or a
// call waits for them.
type Cluster interface {
	// NodeID is this node's id.
	NodeID() string
	// Place returns the live node holding key, first putting it on the
	// least-loaded live node when none holds it.
	Place(ctx context.Context, account, key string) (node, addr string, err error)
	// Claim returns the live node holding key, first taking it for this
	// node when none holds it; it renews this node's lease.
	Claim(ctx context.Context, account, key string) (node, addr string, err error)
	// Holder returns the live node holding key; node is "" when none does.
	Holder(ctx context.Context, account, key string) (node, addr string, err error)
	// Release gives up this node's lease of key (nothing when another node
	// holds it).
	Release(ctx context.Context, account, key string) error
}

// Lease keys.
const (
	roomLease = "room:"
	homeLease = "identity:"
	callLease = "call:"
)

// DefaultClusterLeaseInterval is Config.ClusterLeaseInterval's default.
const DefaultClusterLeaseInterval = 3 * time.Second

// errMoved refuses to relay a connection that another node relayed here for
// one room or call: relays do not chain from those.
var errMoved = &protocol.Error{Code: 503, Reason: protocol.ReasonNodeUnreachable, Message: "the room or callee moved to another node; reconnect"}

// homes counts this node's holds on identity homes: connections that may
// ring here, and calls placed here to a callee who has no home elsewhere.
// Claims and releases are serialized, so a release cannot undo a claim
// made after it.
type homes struct {
	mu sync.Mutex
	n  map[identKey]int
}

func clusterErr(op string, err error) error {
	return fmt.Errorf("calling: cluster %s: %w", op, err)
}

// routeRoom returns the address of the node serving session sid, or "" when
// it is this node (or there is no cluster).
func (s *Server) routeRoom(ctx context.Context, account, sid string) (string, error) {
	cl := s.cfg.Cluster
	if cl == nil {
		return "", nil
	}
	node, addr, err := cl.Place(ctx, account, roomLease+sid)
	if err != nil && !httpx.Unavailable(err) {
		s.log.Warn("placing a room", "err", err)
		return "", &protocol.Error{Code: 503, Reason: protocol.ReasonNodeUnreachable, Message: "no live node can take the room; retry"}
	}
	if err != nil {
		return "", clusterErr("placing a room", err)
	}
	if node == cl.NodeID() {
		return "", nil
	}
	return addr, nil
}

// holdHome takes the home of identity k for this node, or returns the
// address of the node whose home it is. When it is this node's, release
// (called once, when the connection or call that held it ends) gives the
// hold back; the lease goes with the last hold.
func (s *Server) holdHome(ctx context.Context, k identKey) (addr string, release func(), err error) {
	cl := s.cfg.Cluster
	if cl == nil {
		return "", func() {}, nil
	}
	s.homes.mu.Lock()
	defer s.homes.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	node, addr, err := cl.Claim(ctx, k.account, homeLease+k.identity)
	if err != nil {
		return "", nil, clusterErr("claiming an identity's home", err)
	}
	if node != cl.NodeID() {
		return addr, nil, nil
	}
	s.homes.n[k]++
	var once sync.Once
	return "", func() { once.Do(func() { s.releaseHome(k) }) }, nil
}

func (s *Server) releaseHome(k identKey) {
	s.homes.mu.Lock()
	defer s.homes.mu.Unlock()
	if s.homes.n[k]--; s.homes.n[k] > 0 {
		return
	}
	delete(s.homes.n, k)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 2*time.Second)
	defer cancel()
	if err := s.cfg.Cluster.Release(ctx, k.account, homeLease+k.identity); err != nil {
		s.log.Warn("releasing an identity's home", "err", err) // it lapses with the lease
	}
}

// releaseRoom gives up the lease of a room that emptied here, on a
// goroutine of the Server's (the lease keeper claims it again if the room
// filled meanwhile).
func (s *Server) releaseRoom(k roomKey) {
	s.releaseLease(k.account, roomLease+k.session, func() bool { return s.lookupRoom(k) == nil })
}

// releaseLease gives up a lease on a goroutine of the Server's, if idle()
// still says so then.
func (s *Server) releaseLease(account, key string, idle func() bool) {
	if s.cfg.Cluster == nil || s.ctx.Err() != nil { // closed: the leases lapse with the node
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 2*time.Second)
		defer cancel()
		if !idle() {
			return
		}
		if err := s.cfg.Cluster.Release(ctx, account, key); err != nil {
			s.log.Warn("releasing a lease", "err", err)
		}
	}()
}

// claimCall records that call id lives here, so that the calls API on any
// node finds it.
func (s *Server) claimCall(ctx context.Context, account, id string) error {
	if s.cfg.Cluster == nil {
		return nil
	}
	if _, _, err := s.cfg.Cluster.Claim(ctx, account, callLease+id); err != nil {
		return clusterErr("recording a call", err)
	}
	return nil
}

// findCall returns a call of this node, or a snapshot of one that lives on
// another node of the cluster.
func (s *Server) findCall(ctx context.Context, account, id string) (*Call, bool, error) {
	if c, ok := s.Call(account, id); ok || s.cfg.Cluster == nil {
		return c, ok, nil
	}
	node, addr, err := s.cfg.Cluster.Holder(ctx, account, callLease+id)
	if err != nil {
		return nil, false, clusterErr("finding a call", err)
	}
	if node == "" || node == s.cfg.Cluster.NodeID() {
		return nil, false, nil
	}
	var info CallInfo
	if err := s.callRPC(ctx, addr, rpcCallInfo, rpcRequest{Account: account, CallID: id}, &info); err != nil {
		var re *rpcError
		if errors.As(err, &re) && re.Status == 404 {
			return nil, false, nil
		}
		return nil, false, err
	}
	return remoteCall(s, account, info), true, nil
}

// remoteCall is a snapshot of a call that lives on another node.
func remoteCall(s *Server, account string, info CallInfo) *Call {
	return &Call{srv: s, ID: info.ID, Account: account, From: info.From, To: info.To, Options: info.Options,
		state: info.State, cause: info.Cause, sessionID: info.SessionID, history: info.History, remote: &info}
}

// hangupRemote hangs up a call that lives on another node.
func (s *Server) hangupRemote(ctx context.Context, account, id string) error {
	node, addr, err := s.cfg.Cluster.Holder(ctx, account, callLease+id)
	if err != nil {
		return clusterErr("finding a call", err)
	}
	if node == "" {
		return errCallNotFound
	}
	var out struct{}
	err = s.callRPC(ctx, addr, rpcHangupCall, rpcRequest{Account: account, CallID: id}, &out)
	var re *rpcError
	if errors.As(err, &re) && re.Code == "call_over" {
		return &IllegalTransitionError{From: protocol.StateEnded, To: protocol.StateEnded}
	}
	return err
}

// keepLeases claims, every ClusterLeaseInterval, the leases of the rooms
// and identity homes this node serves: it renews them and restores those
// the cluster's store lost (a restarted Redis), so a node recovers by
// itself. A lease another node took meanwhile is logged: that room is
// split until it empties.
func (s *Server) keepLeases() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.ClusterLeaseInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		// Each is checked again right before its claim: a lease released
		// meanwhile stays released.
		type lease struct {
			account, key string
			held         func() bool
		}
		var keys []lease
		for _, r := range s.liveRooms() {
			if !r.isCall() {
				k := r.key
				keys = append(keys, lease{k.account, roomLease + k.session, func() bool { return s.lookupRoom(k) != nil }})
			}
		}
		s.homes.mu.Lock()
		for k := range s.homes.n {
			keys = append(keys, lease{k.account, homeLease + k.identity, func() bool {
				s.homes.mu.Lock()
				defer s.homes.mu.Unlock()
				return s.homes.n[k] > 0
			}})
		}
		s.homes.mu.Unlock()
		s.callsMu.Lock()
		for id, c := range s.calls {
			keys = append(keys, lease{c.Account, callLease + id, func() bool { _, ok := s.Call(c.Account, id); return ok }})
		}
		s.callsMu.Unlock()
		for _, k := range keys {
			if !k.held() {
				continue
			}
			ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
			node, _, err := s.cfg.Cluster.Claim(ctx, k.account, k.key)
			cancel()
			switch {
			case err != nil:
				if s.ctx.Err() == nil {
					s.log.Warn("renewing a lease", "err", err)
				}
			case node != s.cfg.Cluster.NodeID():
				s.log.Warn("a lease this node serves is held by another node", "node", node)
			}
		}
	}
}

// routeJoin returns the address of the node that serves the room or
// session m joins, or "" when it is this one. It checks what it can here
// first, so that nothing is placed for a join that would be refused.
func (p *peer) routeJoin(m *protocol.Message) (string, error) {
	if p.srv.cfg.Cluster == nil {
		return "", nil
	}
	acct, sid := p.claims.Account, m.SessionID
	if m.Room != "" {
		if err := p.mayJoinRoom(m.Room); err != nil {
			return "", err
		}
		sid = rooms.RoomSessionID(m.Room)
	} else {
		if p.claims.ParticipantID == "" {
			return "", nil // refused here: only a participant token joins a session by id
		}
		if _, err := p.srv.cfg.Rooms.Receives(p.ctx, acct, sid, p.claims.ParticipantID); err != nil {
			return "", err
		}
	}
	addr, err := p.srv.routeRoom(p.ctx, acct, sid)
	if err != nil || addr == "" {
		return "", err
	}
	if p.relayIn == relayRoom || p.relayIn == relayCall {
		return "", errMoved
	}
	return addr, nil
}
