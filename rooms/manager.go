package rooms

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/switchboard-rtc/switchboard/auth"
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
	// EventBuffer is each event subscriber's buffer; a subscriber that falls
	// further behind is dropped with ErrSlowConsumer. Default 256.
	EventBuffer int
	// SweepInterval is how often Run calls Sweep. Default 10 s.
	SweepInterval time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger. Default: discard.
	Logger *slog.Logger
}

// Manager holds the rules of sessions, participants and subscriptions over a
// Store. It is safe for concurrent use; every limit is checked inside an
// atomic store update, so concurrent requests cannot overshoot it.
type Manager struct {
	cfg    Config
	tables struct {
		sessions     Table[*Session]
		participants Table[*Participant]
	}
	events hub
	// memberLocks serialise membership changes of one participant, so its
	// record and the sessions' member lists never disagree. (Across nodes a
	// shared Store must provide the same; see adapters/redis.)
	memberLocks [64]sync.Mutex
}

func (m *Manager) lockParticipant(account, pid string) func() {
	h := fnv.New32a()
	h.Write([]byte(account))
	h.Write([]byte{0})
	h.Write([]byte(pid))
	mu := &m.memberLocks[h.Sum32()%uint32(len(m.memberLocks))]
	mu.Lock()
	return mu.Unlock
}

// NewManager validates cfg, fills in defaults and returns a Manager.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		cfg.Store = NewMemoryStore()
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.MaxParticipantsPerSession, DefaultMaxParticipants)
	def(&cfg.MaxSessionsPerParticipant, DefaultMaxSessions)
	def(&cfg.MaxTagLength, DefaultMaxTagLength)
	def(&cfg.MaxStreams, DefaultMaxStreams)
	def(&cfg.EventBuffer, DefaultEventBuffer)
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defd(&cfg.IdleTimeout, DefaultIdleTimeout)
	defd(&cfg.DepartureTimeout, DefaultDepartureTimeout)
	defd(&cfg.SweepInterval, DefaultSweepInterval)
	if cfg.MaxParticipantsPerSession < 2 || cfg.MaxSessionsPerParticipant < 1 || cfg.MaxTagLength < 0 ||
		cfg.MaxStreams < 1 || cfg.EventBuffer < 1 || cfg.IdleTimeout < 0 || cfg.DepartureTimeout < 0 || cfg.SweepInterval < 0 {
		return nil, errors.New("rooms: Config has a negative or too small limit")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{cfg: cfg}
	m.tables.sessions = cfg.Store.Sessions()
	m.tables.participants = cfg.Store.Participants()
	m.events = hub{buffer: cfg.EventBuffer, subs: make(map[*Events]struct{})}
	return m, nil
}

// Config returns the effective configuration (defaults filled in).
func (m *Manager) Config() Config { return m.cfg }

// Subscribe returns a subscription to every event until ctx ends. The
// Manager never waits for a subscriber.
func (m *Manager) Subscribe(ctx context.Context) *Events { return m.events.subscribe(ctx) }

func (m *Manager) emit(t EventType, account, sid, pid string) {
	m.events.emit(Event{Type: t, Account: account, SessionID: sid, ParticipantID: pid, At: m.cfg.Now()})
}

func newID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return prefix + hex.EncodeToString(b)
}

func (m *Manager) checkTag(tag string) error {
	if utf8.RuneCountInString(tag) > m.cfg.MaxTagLength {
		return invalid(fmt.Sprintf("tag is longer than %d characters", m.cfg.MaxTagLength))
	}
	return nil
}

func notFound(err, kind error) error {
	if errors.Is(err, ErrNotFound) {
		return kind
	}
	return err
}

// ParticipantSpec is what a participant is created from.
type ParticipantSpec struct {
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
		return nil, invalid("identity must be 3-64 letters, digits or - _ + = / .")
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
	p := &Participant{ID: newID("p-"), Account: account, Tag: spec.Tag, Identity: spec.Identity,
		PublishPermissions: perms, Sessions: []string{}, Streams: []Stream{}, CreatedAt: m.cfg.Now()}
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
	now := m.cfg.Now()
	s := &Session{ID: newID("s-"), Account: account, Tag: tag, Members: map[string]*Member{}, CreatedAt: now, LastActivity: now, EmptySince: now}
	if err := m.tables.sessions.Create(ctx, s); err != nil {
		return nil, err
	}
	m.emit(SessionCreated, account, s.ID, "")
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
	m.emit(SessionEnded, account, id, "")
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
	now := m.cfg.Now()
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
	now := m.cfg.Now()
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
	now := m.cfg.Now()
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
		m.emit(StreamsChanged, account, sid, pid)
	}
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
	sid := RoomSessionID(room)
	now := m.cfg.Now()
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

// Touch records activity in a session (calling does so while media flows),
// postponing its idle expiry.
func (m *Manager) Touch(ctx context.Context, account, sid string) error {
	now := m.cfg.Now()
	_, err := m.tables.sessions.Update(ctx, account, sid, func(s *Session) error { s.LastActivity = now; return nil })
	return notFound(err, ErrSessionNotFound)
}

// Sweep ends sessions idle for IdleTimeout and rooms empty for
// DepartureTimeout, and returns how many it ended.
func (m *Manager) Sweep(ctx context.Context) (int, error) {
	all, err := m.tables.sessions.List(ctx, "")
	if err != nil {
		return 0, err
	}
	ended := 0
	for _, s := range all {
		if !m.expired(s) {
			continue
		}
		// Look again just before: a session touched since the listing stays.
		fresh, err := m.tables.sessions.Get(ctx, s.Account, s.ID)
		if err != nil || !m.expired(fresh) {
			continue
		}
		if err := m.DeleteSession(ctx, s.Account, s.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return ended, err
		}
		m.cfg.Logger.InfoContext(ctx, "session ended by sweep", "session", s.ID, "room", s.Room)
		ended++
	}
	return ended, nil
}

// expired reports whether s has been idle for IdleTimeout, or is a room
// empty for DepartureTimeout.
func (m *Manager) expired(s *Session) bool {
	now := m.cfg.Now()
	idle := now.Sub(s.LastActivity) >= m.cfg.IdleTimeout
	emptyRoom := s.Room != "" && len(s.Members) == 0 && !s.EmptySince.IsZero() && now.Sub(s.EmptySince) >= m.cfg.DepartureTimeout
	return idle || emptyRoom
}

// Run calls Sweep every SweepInterval until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if _, err := m.Sweep(ctx); err != nil {
				m.cfg.Logger.ErrorContext(ctx, "sweep", "err", err)
			}
		}
	}
}
