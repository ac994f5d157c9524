package rooms

import (
	"slices"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
)

// Stream aliases clients commonly use; any 1–64 character alias is allowed.
const (
	AliasMicrophone  = "microphone"
	AliasCamera      = "camera"
	AliasScreenShare = "screenShare"
)

// Stream is one published track of a participant.
type Stream struct {
	// Alias names the stream within its participant (microphone, camera, ...).
	Alias string `json:"streamAlias" validate:"required,min=1,max=64"`
	// Media is AUDIO or VIDEO.
	Media auth.Media `json:"mediaType" validate:"required,oneof=AUDIO VIDEO"`
}

// Participant is an endpoint that may join sessions (Bandwidth's model).
type Participant struct {
	ID       string `json:"id"`
	Account  string `json:"-"`
	Tag      string `json:"tag,omitempty"`
	Identity string `json:"identity,omitempty"`
	// PublishPermissions is a subset of {AUDIO, VIDEO}.
	PublishPermissions []auth.Media `json:"publishPermissions"`
	// Sessions the participant is a member of.
	Sessions []string `json:"sessions"`
	// Streams the participant publishes now.
	Streams   []Stream  `json:"streams"`
	CreatedAt time.Time `json:"createdAt"`
}

// Clone returns a deep copy.
func (p *Participant) Clone() *Participant {
	c := *p
	c.PublishPermissions = slices.Clone(p.PublishPermissions)
	c.Sessions = slices.Clone(p.Sessions)
	c.Streams = slices.Clone(p.Streams)
	return &c
}

// RecordKey implements Record.
func (p *Participant) RecordKey() (account, id string) { return p.Account, p.ID }

// CanPublish reports whether m is in the publish permissions.
func (p *Participant) CanPublish(m auth.Media) bool { return slices.Contains(p.PublishPermissions, m) }

// Session is a set of participants and who receives whom among them.
type Session struct {
	ID      string `json:"id"`
	Account string `json:"-"`
	Tag     string `json:"tag,omitempty"`
	// Room is the room name for sessions created by JoinRoom; empty otherwise.
	Room string `json:"room,omitempty"`
	// Members maps participant id to its membership.
	Members      map[string]*Member `json:"-"`
	CreatedAt    time.Time          `json:"createdAt"`
	LastActivity time.Time          `json:"-"`
	// EmptySince is when the last member left (zero while anyone is in).
	EmptySince time.Time `json:"-"`
}

// Member is one participant's place in a session.
type Member struct {
	JoinedAt      time.Time      `json:"joinedAt"`
	Subscriptions *Subscriptions `json:"subscriptions"`
}

// Clone returns a deep copy.
func (s *Session) Clone() *Session {
	c := *s
	c.Members = make(map[string]*Member, len(s.Members))
	for id, m := range s.Members {
		mc := *m
		mc.Subscriptions = m.Subscriptions.Clone()
		c.Members[id] = &mc
	}
	return &c
}

// RecordKey implements Record.
func (s *Session) RecordKey() (account, id string) { return s.Account, s.ID }

// MemberIDs returns the ids of the members, sorted.
func (s *Session) MemberIDs() []string {
	ids := make([]string, 0, len(s.Members))
	for id := range s.Members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Subscriptions say what one participant receives in one session
// (Bandwidth's rules):
//   - SessionID set and Participants empty: every stream of every other
//     member, now and later;
//   - a non-empty Participants list overrides SessionID: only those
//     participants, each narrowed to StreamAliases (empty = all its streams);
//   - both empty: nothing.
type Subscriptions struct {
	SessionID    string                    `json:"sessionId,omitempty" validate:"max=64"`
	Participants []ParticipantSubscription `json:"participants,omitempty" validate:"omitempty,max=100,dive"`
}

// ParticipantSubscription selects streams of one participant.
type ParticipantSubscription struct {
	ParticipantID string   `json:"participantId" validate:"required,max=64"`
	StreamAliases []string `json:"streamAliases,omitempty" validate:"omitempty,max=16,dive,min=1,max=64"`
}

// Clone returns a deep copy (nil stays nil).
func (s *Subscriptions) Clone() *Subscriptions {
	if s == nil {
		return nil
	}
	c := &Subscriptions{SessionID: s.SessionID, Participants: make([]ParticipantSubscription, len(s.Participants))}
	for i, p := range s.Participants {
		c.Participants[i] = ParticipantSubscription{ParticipantID: p.ParticipantID, StreamAliases: slices.Clone(p.StreamAliases)}
	}
	if len(s.Participants) == 0 {
		c.Participants = nil
	}
	return c
}

// Everyone returns the subscriptions to every member of session id.
func Everyone(sessionID string) *Subscriptions { return &Subscriptions{SessionID: sessionID} }
