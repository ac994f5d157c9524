package netquality

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Source is where a Monitor takes a direction's sample each tick.
// RTPStats (uplink) and ReportStats (downlink) are Sources. Tick calls
// Snapshot with the Monitor's lock held: it must return quickly and must
// not call the Monitor.
type Source interface {
	Snapshot(at time.Time) Sample
}

var (
	_ Source = (*RTPStats)(nil)
	_ Source = (*ReportStats)(nil)
)

// DefaultInterval is how often Monitor.Run ticks.
const DefaultInterval = time.Second

// Config configures a Monitor. The zero value works.
type Config struct {
	// Estimator configures each direction's window and hysteresis.
	// Default: a 5 s window, a 0.05 MOS margin, a 3 s hold.
	Estimator EstimatorConfig
	// Interval is how often Run ticks. Default 1 s.
	Interval time.Duration
	// OnChange receives each change of a direction's level. It runs on the
	// goroutine of Tick, Observe (or Run), one change at a time, in order;
	// it must not block (hand the change to a queue) and must not call
	// Tick, Observe or Remove (the other methods are fine). Default none:
	// levels are then only read with Report.
	OnChange func(Change)
	// Clock drives Run. Default the real clock.
	Clock Clock
	// Logger receives a debug line per change. Default discards.
	Logger *slog.Logger
}

// Report is a participant's network quality: the overall level (the worse
// of its two directions') and each direction. Its JSON is the
// networkQuality message's body plus the participant's id and identity.
type Report struct {
	ParticipantID string `json:"participantId"`
	Identity      string `json:"identity,omitempty"`
	// Level is the worse of the directions' known levels (LevelUnknown
	// while neither is scored); MOS is the lower of their scores.
	Level    Level   `json:"level"`
	MOS      float64 `json:"mos"`
	Uplink   Quality `json:"uplink"`
	Downlink Quality `json:"downlink"`
}

// Of returns the quality of direction d (zero for an invalid one).
func (r Report) Of(d Direction) Quality {
	switch d {
	case Uplink:
		return r.Uplink
	case Downlink:
		return r.Downlink
	}
	return Quality{}
}

// Change is one change of one direction's level, with the participant's
// whole report after it. The two events a call server sends are direct:
//   - to the participant, networkQuality: c.Level, c.MOS, c.Uplink,
//     c.Downlink (send it on every Change, or only when c.Level differs
//     from c.PreviousLevel);
//   - to the others in its call or room, participantNetworkQuality:
//     c.ParticipantID, c.Identity, c.Of(c.Direction).Level, c.Direction.
type Change struct {
	Report
	// At is the time of the sample that changed the level.
	At time.Time
	// Direction is the direction whose level changed; Previous its level
	// before.
	Direction Direction
	Previous  Level
	// PreviousLevel is the overall level before.
	PreviousLevel Level
}

// Monitor scores the participants of a server: per participant, an
// Estimator per direction, fed each tick from the Sources attached to it
// (Tick, or Run every second) or by Observe, and a Change for each level
// change. A participant is scored from Join to Remove; after Remove
// returns, no Change about it is delivered. An inactive direction (muted,
// nothing sent) changes nothing.
//
// The round trip is one figure per participant: a sample without one gets
// the latest measured by the participant's other direction (the receiver
// reports it sends about the downlink measure the uplink's path too).
//
// A Monitor is safe for concurrent use. It starts no goroutine; Run is
// the optional ticker and ends with its context.
type Monitor struct {
	cfg   Config
	clock Clock
	log   *slog.Logger

	emit sync.Mutex // held by Tick, Observe and Remove: changes go out in order
	mu   sync.Mutex // guards parts
	// parts by participant id.
	parts map[string]*participant
	// logs are the forward logs of the streams AttachUplink and
	// AttachDownlink name, while an attachment uses them.
	logs    map[string]*sharedLog
	scratch []Sample          // Tick's per-direction samples
	changes []Change          // Tick's pending changes
	counts  [2]DirectionStats // Stats (stats.go): Uplink, Downlink
}

type participant struct {
	id, identity string
	dirs         [2]direction // Uplink, Downlink
	rttMs        float64      // latest measured, either direction
}

type direction struct {
	est     *Estimator
	sources []*attachment
}

// attachment is one source of a direction; release (m.mu held, at most
// once) frees what it holds beyond the source.
type attachment struct {
	src      Source
	release  func()
	released bool
}

// free calls a's release once; the caller holds m.mu.
func (a *attachment) free() {
	if !a.released && a.release != nil {
		a.release()
	}
	a.released = true
}

// New returns a Monitor; the zero Config works.
func New(cfg Config) (*Monitor, error) {
	if cfg.Interval < 0 {
		return nil, configError("Interval", "must not be negative")
	}
	if _, err := cfg.Estimator.withDefaults(); err != nil {
		return nil, err
	}
	cfg.Interval = cmp.Or(cfg.Interval, DefaultInterval)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Monitor{cfg: cfg, clock: clockOr(cfg.Clock), log: log, parts: map[string]*participant{}, logs: map[string]*sharedLog{}}, nil
}

// Join starts scoring a participant (identity is carried into its Changes
// and may be empty). Joining again updates the identity and keeps the
// levels.
func (m *Monitor) Join(participantID, identity string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.parts[participantID]; p != nil {
		p.identity = identity
		return
	}
	p := &participant{id: participantID, identity: identity}
	for i := range p.dirs {
		p.dirs[i].est, _ = NewEstimator(m.cfg.Estimator) // validated by New
	}
	m.parts[participantID] = p
}

// Attach adds a source to a joined participant's direction: each Tick
// merges the snapshots of a direction's sources (Merge) into its sample.
// detach removes it (and does nothing after Remove).
func (m *Monitor) Attach(participantID string, d Direction, src Source) (detach func(), err error) {
	return m.attach(participantID, d, &attachment{src: src})
}

func (m *Monitor) attach(participantID string, d Direction, a *attachment) (detach func(), err error) {
	if !d.valid() {
		return nil, ErrInvalidDirection
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.parts[participantID]
	if p == nil {
		return nil, ErrUnknownParticipant
	}
	dir := &p.dirs[d-1]
	dir.sources = append(dir.sources, a)
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		dir.sources = slices.DeleteFunc(dir.sources, func(x *attachment) bool { return x == a })
		a.free()
	}, nil
}

// Remove stops scoring a participant and forgets it. After Remove returns
// no Change about it is delivered.
func (m *Monitor) Remove(participantID string) {
	m.emit.Lock()
	defer m.emit.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.parts[participantID]; p != nil {
		for i := range p.dirs {
			for _, a := range p.dirs[i].sources {
				a.free()
			}
		}
	}
	delete(m.parts, participantID)
}

// Report returns a participant's current quality, and false if it has not
// joined.
func (m *Monitor) Report(participantID string) (Report, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.parts[participantID]
	if p == nil {
		return Report{}, false
	}
	return p.report(), true
}

// Observe adds a sample to a joined participant's direction, for hosts
// that measure their own statistics (Tick does the same from the attached
// sources).
func (m *Monitor) Observe(participantID string, d Direction, s Sample) error {
	if !d.valid() {
		return ErrInvalidDirection
	}
	m.emit.Lock()
	defer m.emit.Unlock()
	m.mu.Lock()
	p := m.parts[participantID]
	if p == nil {
		m.mu.Unlock()
		return ErrUnknownParticipant
	}
	if s.RTTMs > 0 {
		p.rttMs = s.RTTMs
	}
	m.count(d, s)
	m.changes = p.observe(d, s, m.changes[:0])
	m.mu.Unlock()
	m.deliver()
	return nil
}

// Tick takes a sample at at from every attached source, adds each
// direction's merged sample, and delivers the changes. Directions with no
// source are left alone. Call it every second (Run does).
func (m *Monitor) Tick(at time.Time) {
	m.emit.Lock()
	defer m.emit.Unlock()
	m.mu.Lock()
	m.changes = m.changes[:0]
	var samples [2]Sample
	for _, p := range m.parts {
		var have [2]bool
		for i := range p.dirs {
			srcs := p.dirs[i].sources
			if len(srcs) == 0 {
				continue
			}
			m.scratch = m.scratch[:0]
			for _, a := range srcs {
				s := a.src.Snapshot(at)
				m.count(Direction(i+1), s)
				if s.RTTMs > 0 { // a round trip is news even from an inactive direction
					p.rttMs = s.RTTMs
				}
				m.scratch = append(m.scratch, s)
			}
			samples[i], have[i] = Merge(m.scratch...), true
			samples[i].At = at
		}
		for i, ok := range have {
			if ok {
				m.changes = p.observe(Direction(i+1), samples[i], m.changes)
			}
		}
	}
	m.mu.Unlock()
	m.deliver()
}

// deliver hands m.changes to OnChange; the caller holds m.emit.
func (m *Monitor) deliver() {
	debug := m.log.Enabled(context.Background(), slog.LevelDebug)
	for i, c := range m.changes {
		if debug {
			m.log.Debug("network quality", "participant", c.ParticipantID, "direction", c.Direction.String(),
				"level", c.Of(c.Direction).Level.String(), "previous", c.Previous.String(), "overall", c.Level.String())
		}
		if m.cfg.OnChange != nil {
			m.cfg.OnChange(c)
		}
		m.changes[i] = Change{}
	}
	m.changes = m.changes[:0]
}

// observe adds s to direction d and appends the change, if any, to out.
// The caller holds m.mu.
func (p *participant) observe(d Direction, s Sample, out []Change) []Change {
	if s.RTTMs <= 0 && p.rttMs > 0 {
		s.RTTMs = p.rttMs
	}
	before := p.report()
	est := p.dirs[d-1].est
	prev := est.Level()
	if !est.Add(s) {
		return out
	}
	return append(out, Change{Report: p.report(), At: s.At, Direction: d, Previous: prev, PreviousLevel: before.Level})
}

func (p *participant) report() Report {
	up, down := p.dirs[0].est.Quality(), p.dirs[1].est.Quality()
	r := Report{ParticipantID: p.id, Identity: p.identity, Uplink: up, Downlink: down}
	switch {
	case up.Level == LevelUnknown:
		r.Level, r.MOS = down.Level, down.MOS
	case down.Level == LevelUnknown:
		r.Level, r.MOS = up.Level, up.MOS
	default:
		r.Level, r.MOS = min(up.Level, down.Level), min(up.MOS, down.MOS)
	}
	return r
}

// Run ticks every Config.Interval (by Config.Clock) until ctx ends, then
// returns ctx.Err(). It is the Monitor's only goroutine, owned by the
// caller; each timer's callback only signals it.
func (m *Monitor) Run(ctx context.Context) error {
	tick := make(chan struct{}, 1)
	fire := func() {
		select {
		case tick <- struct{}{}:
		default:
		}
	}
	stop := m.clock.AfterFunc(m.cfg.Interval, fire)
	for {
		select {
		case <-ctx.Done():
			stop()
			return ctx.Err()
		case <-tick:
			m.Tick(m.clock.Now())
			stop = m.clock.AfterFunc(m.cfg.Interval, fire)
		}
	}
}
