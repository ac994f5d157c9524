package recording

import (
	"context"
	"errors"
	"fmt"
)

// recover marks the recordings a killed process left in status recording
// as interrupted, with their real duration, after cutting their files to
// the last whole page (Ogg) or block (WebM) and marking them finished.
func (r *Recorder) recover(ctx context.Context) ([]*Recording, error) {
	left, err := r.cfg.Storage.List(ctx, Filter{AnyAccount: true, Status: StatusRecording})
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, rec := range left {
		if err := r.repair(ctx, rec); err != nil {
			rec.Status, rec.Error = StatusFailed, err.Error()
		} else {
			rec.Status = StatusInterrupted
		}
		if err := r.cfg.Storage.Save(ctx, rec); err != nil {
			errs = append(errs, err)
			continue
		}
		r.cfg.Logger.Warn("recording was interrupted", "recording", rec.ID, "status", rec.Status, "durationMs", rec.DurationMs)
	}
	return left, errors.Join(errs...)
}

// repair fixes rec's file and sets its duration, size and end.
func (r *Recorder) repair(ctx context.Context, rec *Recording) error {
	f, err := r.cfg.Storage.Open(ctx, rec, true)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	end := fi.ModTime().UTC()
	rec.EndedAt = &end
	var size int64
	switch rec.Format {
	case FormatOgg:
		s, err := summarizeOgg(f)
		if err != nil {
			return fmt.Errorf("no playable Ogg data: %w", err)
		}
		if err := f.Truncate(s.validEnd); err != nil {
			return err
		}
		if !s.eos {
			if err := markEOS(f, s.lastPage, s.lastOff); err != nil {
				return err
			}
		}
		rec.DurationMs, size = oggDuration(s.lastGranule), s.validEnd
	case FormatWebM:
		if size, rec.DurationMs, err = repairWebM(f, fi.Size()); err != nil {
			return fmt.Errorf("no playable WebM data: %w", err)
		}
	default:
		return fmt.Errorf("unknown format %q", rec.Format)
	}
	rec.Bytes = size
	return f.Sync()
}
