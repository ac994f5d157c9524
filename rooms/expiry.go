package rooms

import (
	"context"
	"errors"
	"time"
)

// Touch records activity in a session (calling does so while media flows),
// postponing its idle expiry.
func (m *Manager) Touch(ctx context.Context, account, sid string) error {
	now := m.cfg.Clock.Now()
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
	now := m.cfg.Clock.Now()
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
