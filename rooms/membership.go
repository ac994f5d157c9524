package rooms

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"
	"unicode/utf8"
)

func (m *Manager) lockParticipant(account, pid string) func() {
	h := fnv.New32a()
	h.Write([]byte(account))
	h.Write([]byte{0})
	h.Write([]byte(pid))
	mu := &m.memberLocks[h.Sum32()%uint32(len(m.memberLocks))]
	mu.Lock()
	return mu.Unlock
}

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
// subscriptions. Limits: ErrSessionFull, ErrTooManySessions.
func (m *Manager) AddParticipant(ctx context.Context, account, sid, pid string, subs *Subscriptions) error {
	if subs == nil {
		subs = Everyone(sid)
	}
	if err := m.checkSubscriptions(sid, subs); err != nil {
		return err
	}
	if _, err := m.Session(ctx, account, sid); err != nil {
		return err
	}
	defer m.lockParticipant(account, pid)()
	// Reserve the participant's side first: its session limit is checked atomically.
	added := false
	_, err := m.tables.participants.Update(ctx, account, pid, func(p *Participant) error {
		if slices.Contains(p.Sessions, sid) {
			return nil
		}
		if len(p.Sessions) >= m.cfg.MaxSessionsPerParticipant {
			return ErrTooManySessions
		}
		p.Sessions = append(p.Sessions, sid)
		added = true
		return nil
	})
	if err != nil {
		return notFound(err, ErrParticipantNotFound)
	}
	now := m.cfg.Clock.Now()
	joined := false
	_, err = m.tables.sessions.Update(ctx, account, sid, func(s *Session) error {
		if mem, ok := s.Members[pid]; ok {
			mem.Subscriptions = subs.Clone()
		} else {
			if len(s.Members) >= m.cfg.MaxParticipantsPerSession {
				return ErrSessionFull
			}
			s.Members[pid] = &Member{JoinedAt: now, Subscriptions: subs.Clone()}
			joined = true
		}
		s.LastActivity, s.EmptySince = now, time.Time{}
		return nil
	})
	if err != nil {
		if added { // roll the reservation back
			_, _ = m.tables.participants.Update(ctx, account, pid, func(p *Participant) error {
				p.Sessions = slices.DeleteFunc(p.Sessions, func(s string) bool { return s == sid })
				return nil
			})
		}
		return notFound(err, ErrSessionNotFound)
	}
	if joined {
		m.emit(ParticipantAdded, account, sid, pid)
	} else {
		m.emit(SubscriptionsChanged, account, sid, pid)
	}
	return nil
}

// RemoveParticipant takes pid out of session sid. Other members'
// subscriptions naming pid stay (they apply again if pid rejoins).
func (m *Manager) RemoveParticipant(ctx context.Context, account, sid, pid string) error {
	defer m.lockParticipant(account, pid)()
	now := m.cfg.Clock.Now()
	_, err := m.tables.sessions.Update(ctx, account, sid, func(s *Session) error {
		if _, ok := s.Members[pid]; !ok {
			return ErrNotMember
		}
		delete(s.Members, pid)
		s.LastActivity = now
		if len(s.Members) == 0 {
			s.EmptySince = now
		}
		return nil
	})
	if err != nil {
		return notFound(err, ErrSessionNotFound)
	}
	_, err = m.tables.participants.Update(ctx, account, pid, func(p *Participant) error {
		p.Sessions = slices.DeleteFunc(p.Sessions, func(s string) bool { return s == sid })
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	m.emit(ParticipantRemoved, account, sid, pid)
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
	m.emit(SubscriptionsChanged, account, sid, pid)
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
		m.emit(SessionCreated, account, sid, "")
	case !errors.Is(err, ErrExists):
		return nil, err
	}
	if err := m.AddParticipant(ctx, account, sid, pid, Everyone(sid)); err != nil {
		return nil, err
	}
	return m.Session(ctx, account, sid)
}
