// Package pionlog bridges pion's logging.LoggerFactory to log/slog, so the
// media stack logs where the host's logger points (and nowhere by default).
// pion's trace level maps to slog debug - 4.
package pionlog

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// Factory is a logging.LoggerFactory writing to an *slog.Logger. Safe for
// concurrent use.
type Factory struct{ Logger *slog.Logger }

var _ logging.LoggerFactory = Factory{}

// NewLogger implements logging.LoggerFactory.
func (f Factory) NewLogger(scope string) logging.LeveledLogger {
	return logger{l: f.Logger.With("pion", scope)}
}

const levelTrace = slog.LevelDebug - 4

type logger struct{ l *slog.Logger }

func (g logger) log(level slog.Level, msg string) {
	g.l.Log(context.Background(), level, msg)
}

func (g logger) logf(level slog.Level, format string, args ...any) {
	if g.l.Enabled(context.Background(), level) { // format only when it is written
		g.l.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (g logger) Trace(msg string)                  { g.log(levelTrace, msg) }
func (g logger) Tracef(format string, args ...any) { g.logf(levelTrace, format, args...) }
func (g logger) Debug(msg string)                  { g.log(slog.LevelDebug, msg) }
func (g logger) Debugf(format string, args ...any) { g.logf(slog.LevelDebug, format, args...) }
func (g logger) Info(msg string)                   { g.log(slog.LevelInfo, msg) }
func (g logger) Infof(format string, args ...any)  { g.logf(slog.LevelInfo, format, args...) }
func (g logger) Warn(msg string)                   { g.log(slog.LevelWarn, msg) }
func (g logger) Warnf(format string, args ...any)  { g.logf(slog.LevelWarn, format, args...) }
func (g logger) Error(msg string)                  { g.log(slog.LevelError, msg) }
func (g logger) Errorf(format string, args ...any) { g.logf(slog.LevelError, format, args...) }
