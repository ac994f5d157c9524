package rooms

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
)

func (m *Manager) checkSubscriptions(sid string, subs *Subscriptions) error {
	if subs == nil {
		return nil
	}
	if subs.SessionID != "" && subs.SessionID != sid {
		return invalid("subscriptions.sessionId must be the session's own id")
	}
	if len(subs.Participants) > maxSubscriptionEntryCount {
		return invalid(fmt.Sprintf("at most %d participant subscriptions", maxSubscriptionEntryCount))
	}
	for _, ps := range subs.Participants {
		if ps.ParticipantID == "" {
			return invalid("participantId is required in each participant subscription")
		}
		for _, a := range ps.StreamAliases {
			if a == "" || len(a) > maxStreamAliasLength {
				return invalid("stream aliases are 1-64 characters")
			}
		}
	}
	return nil
}

// AddParticipant puts participant pid into session sid with subs (nil means
// Everyone(sid), Bandwidth's default). Adding a member again replaces its
// subscriptions. Limits: ErrSessionFull, ErrTooManySessions. The session's
// member list and the participant's session list change in one atomic
// Store.UpdateMembership, so they never disagree and no limit is overshot.
func (m *Manager) AddParticipant(ctx context.Context, account, sid, pid string, subs *Subscriptions) error {
	if subs == nil {
		subs = Everyone(sid)
	}
	if err := m.checkSubscriptions(sid, subs); err != nil {
		return err
	}
	now := m.cfg.Clock.Now()
	joined := false
	err := m.store.UpdateMembership(ctx, account, sid, pid, func(s *Session, p *Participant) error {
		joined = false // fn may run again after a conflict (a shared store)
		if mem, ok := s.Members[pid]; ok {
			mem.Subscriptions = subs.Clone()
		} else {
			if len(s.Members) >= m.cfg.MaxParticipantsPerSession {
				return ErrSessionFull
			}
			if !slices.Contains(p.Sessions, sid) && len(p.Sessions) >= m.cfg.MaxSessionsPerParticipant {
				return ErrTooManySessions
			}
			s.Members[pid] = &Member{JoinedAt: now, Subscriptions: subs.Clone()}
			joined = true
		}
		if !slices.Contains(p.Sessions, sid) {
			p.Sessions = append(p.Sessions, sid)
		}
		s.LastActivity, s.EmptySince = now, time.Time{}
		return nil
	})
	if err != nil {
		return err
	}
	if joined {
		m.emit(ctx, ParticipantAdded, account, sid, pid)
	} else {
		m.emit(ctx, SubscriptionsChanged, account, sid, pid)
	}
	return nil
}

// RemoveParticipant takes pid out of session sid. Other members'
// subscriptions naming pid stay (they apply again if pid rejoins). A
// participant record already deleted is not an error: the session is left.
func (m *Manager) RemoveParticipant(ctx context.Context, account, sid, pid string) error {
	now := m.cfg.Clock.Now()
	leave := func(s *Session) error {
		if _, ok := s.Members[pid]; !ok {
			return ErrNotMember
		}
		delete(s.Members, pid)
		s.LastActivity = now
		if len(s.Members) == 0 {
			s.EmptySince = now
		}
		return nil
	}
	err := m.store.UpdateMembership(ctx, account, sid, pid, func(s *Session, p *Participant) error {
		p.Sessions = slices.DeleteFunc(p.Sessions, func(s string) bool { return s == sid })
		return leave(s)
	})
	if errors.Is(err, ErrParticipantNotFound) { // only the session's side is left to change
		_, err = m.tables.sessions.Update(ctx, account, sid, func(s *Session) error { return leave(s) })
		err = notFound(err, ErrSessionNotFound)
	}
	if err != nil {
		return err
	}
	m.emit(ctx, ParticipantRemoved, account, sid, pid)
	return nil
}

// Subscriptions returns what pid subscribes to in sid.
func (m *Manager) Subscriptions(ctx context.Context, account, sid, pid string) (*Subscriptions, error) {
	s, err := m.Session(ctx, account, sid)
	if err != nil {
		return nil, err
	}
	mem, ok := s.Members[pid]
	if !ok {
		return nil, ErrNotMember
	}
	if mem.Subscriptions == nil {
		return &Subscriptions{}, nil
	}
	return mem.Subscriptions, nil
}

// SetSubscriptions replaces what pid subscribes to in sid; nil or empty removes all.
func (m *Manager) SetSubscriptions(ctx context.Context, account, sid, pid string, subs *Subscriptions) error {
	if subs == nil {
		subs = &Subscriptions{}
	}
	if err := m.checkSubscriptions(sid, subs); err != nil {
		return err
	}
	now := m.cfg.Clock.Now()
	_, err := m.tables.sessions.Update(ctx, account, sid, func(s *Session) error {
		mem, ok := s.Members[pid]
		if !ok {
			return ErrNotMember
		}
		mem.Subscriptions = subs.Clone()
		s.LastActivity = now
		return nil
	})
	if err != nil {
		return notFound(err, ErrSessionNotFound)
	}
	m.emit(ctx, SubscriptionsChanged, account, sid, pid)
	return nil
}

// RoomSessionID is the session id of the room name: the same on every node.
func RoomSessionID(room string) string {
	return "r-" + base64.RawURLEncoding.EncodeToString([]byte(room))
}

// JoinRoom puts pid into the room named room (Infobip ROOM calls, LiveKit
// rooms), creating it on first join, subscribed to everyone in it.
func (m *Manager) JoinRoom(ctx context.Context, account, room, pid string) (*Session, error) {
	if room == "" || utf8.RuneCountInString(room) > maxRoomNameLength {
		return nil, invalid(fmt.Sprintf("room names are 1-%d characters", maxRoomNameLength))
	}
	if err := checkText("room name", room); err != nil {
		return nil, err
	}
	sid := RoomSessionID(room)
	now := m.cfg.Clock.Now()
	err := m.tables.sessions.Create(ctx, &Session{ID: sid, Account: account, Room: room, Members: map[string]*Member{}, CreatedAt: now, LastActivity: now, EmptySince: now})
	switch {
	case err == nil:
		m.emit(ctx, SessionCreated, account, sid, "")
	case !errors.Is(err, ErrExists):
		return nil, err
	}
	if err := m.AddParticipant(ctx, account, sid, pid, Everyone(sid)); err != nil {
		return nil, err
	}
	return m.Session(ctx, account, sid)
}
