package calling

import (
	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/calling/protocol"
	"github.com/switchboard-rtc/switchboard/internal/httpx"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// What a connection may do is decided here, and only here, from its
// token's grants (through the auth.Claims permission helpers) (which a refresh message may change) and, for a
// participant the REST API created, that participant's publish
// permissions (the REST API, not the token, decides what it publishes).
// These run on the peer's loop.

var (
	errRoomNotGranted = &protocol.Error{Code: 403, Reason: protocol.ReasonRoomNotGranted, Message: "the token does not grant this room"}
	errNoOutgoing     = &protocol.Error{Code: 403, Reason: protocol.ReasonForbidden, Message: "the token does not grant outgoing calls"}
)

// mayJoinRoom: joining a room by name needs the rooms grant to name it (or "*").
func (p *peer) mayJoinRoom(name string) error {
	if name == "" || !p.claims.CanJoin(name) {
		return errRoomNotGranted
	}
	return nil
}

// mayPublish checks every announced publication. part is the participant
// being joined (nil: the connection's current one, looked up once; a store
// that cannot be reached is its error, 503, not a refusal).
func (p *peer) mayPublish(pubs []protocol.Publication, part *rooms.Participant) error {
	if part == nil && p.claims.ParticipantID != "" && len(pubs) > 0 {
		var err error
		if part, err = p.srv.cfg.Rooms.Participant(p.ctx, p.claims.Account, p.claims.ParticipantID); err != nil {
			if httpx.Unavailable(err) {
				return err
			}
			return rooms.ErrPublishNotPermitted
		}
	}
	for _, pub := range pubs {
		if !p.canPublish(pubMedia(pub.Kind), part) {
			return rooms.ErrPublishNotPermitted
		}
	}
	return nil
}

func (p *peer) canPublish(m auth.Media, part *rooms.Participant) bool {
	if p.claims.ParticipantID == "" { // an identity token: its grant decides
		return p.claims.CanPublish(m)
	}
	if part == nil {
		var err error
		if part, err = p.srv.cfg.Rooms.Participant(p.ctx, p.claims.Account, p.claims.ParticipantID); err != nil {
			return false
		}
	}
	return part.CanPublish(m)
}

// mayCall: placing a call needs the outgoing grant.
func (p *peer) mayCall() error {
	if !p.claims.CanCall() {
		return errNoOutgoing
	}
	return nil
}

// mayRing: a connection rings for its identity's calls with the incoming
// grant (and an identity that can be called).
func (p *peer) mayRing() bool {
	return !p.noRing && p.claims.CanReceiveCalls()
}

// maySendData: data-channel messages need the data grant.
func (p *peer) maySendData() bool { return p.claims.CanSendData() }
