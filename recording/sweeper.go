package recording

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"
)

// SweeperConfig configures NewSweeper.
type SweeperConfig struct {
	// Storage holds the recordings (required).
	Storage Storage
	// Retention is how long a finished recording is kept after it ended
	// (or, without an end, after it started). Default 30 days.
	Retention time.Duration
	// Interval between sweeps. Default 1 hour.
	Interval time.Duration
	// Clock is the time source. Default: the real clock.
	Clock Clock
	// Logger receives each deletion and failure. Default: discards.
	Logger *slog.Logger
}

// Sweeper deletes recordings older than the retention period. A
// recording still being written is never deleted. Safe for concurrent use.
type Sweeper struct {
	cfg SweeperConfig
}

// NewSweeper returns a Sweeper.
func NewSweeper(cfg SweeperConfig) (*Sweeper, error) {
	if cfg.Storage == nil {
		return nil, errors.New("recording: SweeperConfig needs Storage")
	}
	if cfg.Retention < 0 || cfg.Interval < 0 {
		return nil, errors.New("recording: negative Retention or Interval")
	}
	cfg.Retention = cmp.Or(cfg.Retention, 30*24*time.Hour)
	cfg.Interval = cmp.Or(cfg.Interval, time.Hour)
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{cfg: cfg}, nil
}

// Sweep deletes the recordings past retention now and returns how many.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	cutoff := s.cfg.Clock.Now().Add(-s.cfg.Retention)
	// StartedAt <= EndedAt, so every candidate started before the cutoff.
	old, err := s.cfg.Storage.List(ctx, Filter{AnyAccount: true, To: cutoff})
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, r := range old {
		end := r.StartedAt
		if r.EndedAt != nil {
			end = *r.EndedAt
		}
		if r.Status == StatusRecording || !end.Before(cutoff) {
			continue
		}
		if err := s.cfg.Storage.Delete(ctx, r); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		s.cfg.Logger.InfoContext(ctx, "recording deleted after retention", "recording", r.ID)
		n++
	}
	return n, errors.Join(errs...)
}

// Run sweeps now and then every Interval until ctx ends, and returns nil.
func (s *Sweeper) Run(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.WarnContext(ctx, "recording sweep failed", "err", err)
		}
		stop := s.cfg.Clock.AfterFunc(s.cfg.Interval, func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		})
		select {
		case <-ctx.Done():
			stop()
			return nil
		case <-wake:
		}
	}
}
