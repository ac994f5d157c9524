package netquality

import (
	"errors"
	"fmt"
)

// Errors of the package; test with errors.Is.
var (
	// ErrInvalidConfig: a Config field is out of range (New* wraps it with
	// the field's name).
	ErrInvalidConfig = errors.New("netquality: invalid config")
	// ErrUnknownParticipant: Monitor.Observe or Monitor.Attach named a
	// participant that has not joined (or was removed).
	ErrUnknownParticipant = errors.New("netquality: unknown participant")
	// ErrInvalidDirection: a direction other than Uplink or Downlink where
	// one of those is required.
	ErrInvalidDirection = errors.New("netquality: direction must be uplink or downlink")
)

// LevelError is returned by Level.UnmarshalText for a name that is not a
// level.
type LevelError struct {
	Name string
}

func (e *LevelError) Error() string {
	return fmt.Sprintf("netquality: %q is not a quality level", e.Name)
}

// configError wraps ErrInvalidConfig with the field at fault.
func configError(field, rule string) error {
	return fmt.Errorf("%w: %s %s", ErrInvalidConfig, field, rule)
}
