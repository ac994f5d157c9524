package calling_test

import (
	"testing"

	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/callingtest"
)

// The in-memory Presence passes the conformance suite every shared one
// must pass (adapters/redis runs the same one).
func TestPresenceSuite(t *testing.T) {
	callingtest.PresenceSuite(t, func(*testing.T) func() calling.Presence {
		p := calling.NewMemoryPresence()
		return func() calling.Presence { return p }
	})
}
