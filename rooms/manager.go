package rooms

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/internal/clock"
)

// Defaults of Config.
const (
	DefaultMaxParticipants    = 20
	DefaultMaxSessions        = 1
	DefaultMaxTagLength       = 50
	DefaultIdleTimeout        = 9 * time.Hour
	DefaultDepartureTimeout   = 20 * time.Second
	DefaultEventBuffer        = 256
	DefaultMaxStreams         = 8
	DefaultSweepInterval      = 10 * time.Second
	maxRoomNameLength         = 128
	maxStreamAliasLength      = 64
	maxSubscriptionEntryCount = 100
)

// Config configures a Manager. The zero value works; each field documents its default.
type Config struct {
	// Store keeps sessions and participants. Default NewMemoryStore().
	Store Store
	// MaxParticipantsPerSession: joining one past it is ErrSessionFull. Default 20.
	MaxParticipantsPerSession int
	// MaxSessionsPerParticipant: joining one past it is ErrTooManySessions. Default 1.
	MaxSessionsPerParticipant int
	// MaxTagLength in characters. Default 50.
	MaxTagLength int
	// MaxStreams a participant may publish at once. Default 8.
	MaxStreams int
	// IdleTimeout: a session with no change for this long is ended by Sweep. Default 9 h.
	IdleTimeout time.Duration
	// DepartureTimeout: a room (JoinRoom) empty for this long is ended by Sweep. Default 20 s.
	DepartureTimeout time.Duration
	// Bus carries the events to subscribers. Default NewMemoryBus() (this
	// process only).
	Bus Bus
	// EventBuffer is each event subscriber's buffer; a subscriber that falls
	// further behind is dropped with ErrSlowConsumer. Default 256.
	EventBuffer int
	// SweepInterval is how often Run calls Sweep. Default 10 s.
	SweepInterval time.Duration
	// Clock dates records and events and decides expiry. Default: the real clock.
	Clock Clock
	// Logger. Default: discard.
	Logger *slog.Logger
}

// Clock is the time source of a Manager. Nil in Config means the real
// clock; tests inject one they move by hand. Implementations must be safe
// for concurrent use.
type Clock interface {
	Now() time.Time
}

// Manager holds the rules of sessions, participants and subscriptions over a
// Store. It is safe for concurrent use; every limit is checked inside an
// atomic store update, so concurrent requests cannot overshoot it.
type Manager struct {
	cfg    Config
	store  Store
	tables struct {
		sessions     Table[*Session]
		participants Table[*Participant]
	}
}

// NewManager validates cfg, fills in defaults and returns a Manager.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	cfg.MaxParticipantsPerSession = cmp.Or(cfg.MaxParticipantsPerSession, DefaultMaxParticipants)
	cfg.MaxSessionsPerParticipant = cmp.Or(cfg.MaxSessionsPerParticipant, DefaultMaxSessions)
	cfg.MaxTagLength = cmp.Or(cfg.MaxTagLength, DefaultMaxTagLength)
	cfg.MaxStreams = cmp.Or(cfg.MaxStreams, DefaultMaxStreams)
	cfg.EventBuffer = cmp.Or(cfg.EventBuffer, DefaultEventBuffer)
	cfg.IdleTimeout = cmp.Or(cfg.IdleTimeout, DefaultIdleTimeout)
	cfg.DepartureTimeout = cmp.Or(cfg.DepartureTimeout, DefaultDepartureTimeout)
	cfg.SweepInterval = cmp.Or(cfg.SweepInterval, DefaultSweepInterval)
	if cfg.MaxParticipantsPerSession < 2 || cfg.MaxSessionsPerParticipant < 1 || cfg.MaxTagLength < 0 ||
		cfg.MaxStreams < 1 || cfg.EventBuffer < 1 || cfg.IdleTimeout < 0 || cfg.DepartureTimeout < 0 || cfg.SweepInterval < 0 {
		return nil, errors.New("rooms: Config has a negative or too small limit")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Bus == nil {
		cfg.Bus = NewMemoryBus()
	}
	m := &Manager{cfg: cfg, store: cfg.Store}
	m.tables.sessions = cfg.Store.Sessions()
	m.tables.participants = cfg.Store.Participants()
	return m, nil
}

// Config returns the effective configuration (defaults filled in).
func (m *Manager) Config() Config { return m.cfg }

// Subscribe returns a subscription to every event on the Bus until ctx
// ends, buffered by EventBuffer. The Manager never waits for a subscriber.
func (m *Manager) Subscribe(ctx context.Context) *Events {
	return m.cfg.Bus.Subscribe(ctx, m.cfg.EventBuffer)
}

// emit publishes an event; a Bus that fails is logged: the change it
// reports has been made, and subscribers resynchronise from the Store.
func (m *Manager) emit(ctx context.Context, t EventType, account, sid, pid string) {
	e := Event{Type: t, Account: account, SessionID: sid, ParticipantID: pid, At: m.cfg.Clock.Now()}
	if err := m.cfg.Bus.Publish(ctx, e); err != nil {
		m.cfg.Logger.ErrorContext(ctx, "publishing a room event", "type", t, "session", sid, "err", err)
	}
}

func newID(prefix string) string { return prefix + rand.Text() }

// NewParticipantID returns a fresh participant id, as CreateParticipant
// makes when ParticipantSpec.ID is empty.
func NewParticipantID() string { return newID("p-") }

// validRecordID: 1-64 of ASCII letters, digits, - and _.
func validRecordID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (m *Manager) checkTag(tag string) error {
	if utf8.RuneCountInString(tag) > m.cfg.MaxTagLength {
		return invalid(fmt.Sprintf("tag is longer than %d characters", m.cfg.MaxTagLength))
	}
	return checkText("tag", tag)
}

func notFound(err, kind error) error {
	if errors.Is(err, ErrNotFound) {
		return kind
	}
	return err
}

// ParticipantSpec is what a participant is created from.
type ParticipantSpec struct {
	// ID is the new participant's id. Empty (the REST API) means a fresh
	// one. A caller that must be able to take back a creation whose answer
	// it never got (a shared store that went away after the write) makes
	// it with NewParticipantID first. ErrExists if it is taken.
	ID                 string
	Tag                string
	Identity           string
	PublishPermissions []auth.Media
}

// CreateParticipant creates a participant of account.
func (m *Manager) CreateParticipant(ctx context.Context, account string, spec ParticipantSpec) (*Participant, error) {
	if err := m.checkTag(spec.Tag); err != nil {
		return nil, err
	}
	if spec.Identity != "" && !auth.ValidIdentity(spec.Identity) {
		return nil, invalid("identity must be 3-64 ASCII letters, digits or - _ + = / .")
	}
	perms := []auth.Media{}
	for _, p := range spec.PublishPermissions {
		if p != auth.MediaAudio && p != auth.MediaVideo {
			return nil, invalid("publishPermissions may hold AUDIO and VIDEO only")
		}
		if !slices.Contains(perms, p) {
			perms = append(perms, p)
		}
	}
	id := spec.ID
	if id == "" {
		id = NewParticipantID()
	} else if !validRecordID(id) {
		return nil, invalid("a participant id is 1-64 ASCII letters, digits, - or _")
	}
	p := &Participant{ID: id, Account: account, Tag: spec.Tag, Identity: spec.Identity,
		PublishPermissions: perms, Sessions: []string{}, Streams: []Stream{}, CreatedAt: m.cfg.Clock.Now()}
	if err := m.tables.participants.Create(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// Participant returns a participant of account.
func (m *Manager) Participant(ctx context.Context, account, id string) (*Participant, error) {
	p, err := m.tables.participants.Get(ctx, account, id)
	return p, notFound(err, ErrParticipantNotFound)
}

// DeleteParticipant removes the participant from its sessions, then deletes it.
func (m *Manager) DeleteParticipant(ctx context.Context, account, id string) error {
	p, err := m.Participant(ctx, account, id)
	if err != nil {
		return err
	}
	for _, sid := range p.Sessions {
		if err := m.RemoveParticipant(ctx, account, sid, id); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrNotMember) {
			return err
		}
	}
	return notFound(m.tables.participants.Delete(ctx, account, id), ErrParticipantNotFound)
}

// CreateSession creates an empty session of account.
func (m *Manager) CreateSession(ctx context.Context, account, tag string) (*Session, error) {
	if err := m.checkTag(tag); err != nil {
		return nil, err
	}
	now := m.cfg.Clock.Now()
	s := &Session{ID: newID("s-"), Account: account, Tag: tag, Members: map[string]*Member{}, CreatedAt: now, LastActivity: now, EmptySince: now}
	if err := m.tables.sessions.Create(ctx, s); err != nil {
		return nil, err
	}
	m.emit(ctx, SessionCreated, account, s.ID, "")
	return s, nil
}

// Session returns a session of account.
func (m *Manager) Session(ctx context.Context, account, id string) (*Session, error) {
	s, err := m.tables.sessions.Get(ctx, account, id)
	return s, notFound(err, ErrSessionNotFound)
}

// DeleteSession removes every member, then ends the session.
func (m *Manager) DeleteSession(ctx context.Context, account, id string) error {
	s, err := m.Session(ctx, account, id)
	if err != nil {
		return err
	}
	for _, pid := range s.MemberIDs() {
		if err := m.RemoveParticipant(ctx, account, id, pid); err != nil && !errors.Is(err, ErrNotMember) && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if err := m.tables.sessions.Delete(ctx, account, id); err != nil {
		return notFound(err, ErrSessionNotFound)
	}
	m.emit(ctx, SessionEnded, account, id, "")
	return nil
}

// View is a consistent-enough snapshot of a session and its members' records.
type View struct {
	Session      *Session
	Participants map[string]*Participant
}

// Receives applies the rules to the view (see the package function Receives).
func (v *View) Receives(pid string) []StreamRef { return Receives(v.Session, v.Participants, pid) }

// View returns the session with its members' participant records.
func (m *Manager) View(ctx context.Context, account, sid string) (*View, error) {
	s, err := m.Session(ctx, account, sid)
	if err != nil {
		return nil, err
	}
	v := &View{Session: s, Participants: make(map[string]*Participant, len(s.Members))}
	for _, pid := range s.MemberIDs() {
		p, err := m.tables.participants.Get(ctx, account, pid)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		v.Participants[pid] = p
	}
	return v, nil
}

// Receives returns the streams participant pid receives in session sid.
func (m *Manager) Receives(ctx context.Context, account, sid, pid string) ([]StreamRef, error) {
	v, err := m.View(ctx, account, sid)
	if err != nil {
		return nil, err
	}
	if _, ok := v.Session.Members[pid]; !ok {
		return nil, ErrNotMember
	}
	return v.Receives(pid), nil
}

// SessionParticipants returns the members' records, sorted by id.
func (m *Manager) SessionParticipants(ctx context.Context, account, sid string) ([]*Participant, error) {
	v, err := m.View(ctx, account, sid)
	if err != nil {
		return nil, err
	}
	out := make([]*Participant, 0, len(v.Participants))
	for _, pid := range v.Session.MemberIDs() {
		if p, ok := v.Participants[pid]; ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// SetStreams replaces the streams pid publishes (calling reports them as
// tracks come and go). Each media type must be in the publish permissions.
func (m *Manager) SetStreams(ctx context.Context, account, pid string, streams []Stream) error {
	if len(streams) > m.cfg.MaxStreams {
		return invalid(fmt.Sprintf("at most %d streams", m.cfg.MaxStreams))
	}
	seen := map[string]bool{}
	for _, st := range streams {
		if st.Alias == "" || len(st.Alias) > maxStreamAliasLength || seen[st.Alias] {
			return invalid("stream aliases must be 1-64 characters and unique")
		}
		seen[st.Alias] = true
		if st.Media != auth.MediaAudio && st.Media != auth.MediaVideo {
			return invalid("stream mediaType must be AUDIO or VIDEO")
		}
	}
	p, err := m.tables.participants.Update(ctx, account, pid, func(p *Participant) error {
		for _, st := range streams {
			if !p.CanPublish(st.Media) {
				return ErrPublishNotPermitted
			}
		}
		p.Streams = slices.Clone(streams)
		return nil
	})
	if err != nil {
		return notFound(err, ErrParticipantNotFound)
	}
	for _, sid := range p.Sessions {
		m.emit(ctx, StreamsChanged, account, sid, pid)
	}
	return nil
}
