package rooms_test

import (
	"testing"

	"github.com/switchboard-rtc/switchboard/rooms"
	"github.com/switchboard-rtc/switchboard/rooms/roomstest"
)

// The in-memory defaults pass the conformance suites every shared
// implementation must pass (adapters/redis runs the same ones).
func TestStoreSuite(t *testing.T) {
	roomstest.StoreSuite(t, func(*testing.T) func() rooms.Store {
		st := rooms.NewMemoryStore()
		return func() rooms.Store { return st }
	})
}

func TestBusSuite(t *testing.T) {
	roomstest.BusSuite(t, func(*testing.T) func() rooms.Bus {
		b := rooms.NewMemoryBus()
		return func() rooms.Bus { return b }
	})
}
