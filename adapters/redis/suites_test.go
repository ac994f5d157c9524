package redis_test

import (
	"testing"

	"github.com/switchboard-rtc/switchboard/rooms"
	"github.com/switchboard-rtc/switchboard/rooms/roomstest"
)

// The Redis implementations pass the same conformance suites as the
// in-memory defaults, each handle a separate Client as separate nodes have.

func TestStoreSuite(t *testing.T) {
	roomstest.StoreSuite(t, func(t *testing.T) func() rooms.Store {
		next := clients(t)
		return func() rooms.Store { return next().Store() }
	})
}
