package redis_test

import (
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/adapters/redis"
	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/auth/authtest"
	"github.com/switchboard-rtc/switchboard/calling"
	"github.com/switchboard-rtc/switchboard/calling/callingtest"
	"github.com/switchboard-rtc/switchboard/push"
	"github.com/switchboard-rtc/switchboard/push/pushtest"

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

func TestBusSuite(t *testing.T) {
	roomstest.BusSuite(t, func(t *testing.T) func() rooms.Bus {
		next := clients(t)
		return func() rooms.Bus { return next().Bus(redis.BusConfig{}) }
	})
}

func TestReplayCacheSuite(t *testing.T) {
	authtest.ReplayCacheSuite(t, func(t *testing.T) authtest.ReplayCacheHarness {
		next := clients(t)
		return authtest.ReplayCacheHarness{
			New: func() auth.ReplayCache { return next().ReplayCache(redis.ReplayCacheConfig{}) },
			Now: time.Now,
		}
	})
}

func TestPresenceSuite(t *testing.T) {
	callingtest.PresenceSuite(t, func(t *testing.T) func() calling.Presence {
		next := clients(t)
		return func() calling.Presence { return next().Presence(redis.PresenceConfig{}) }
	})
}

func TestRegistrySuite(t *testing.T) {
	pushtest.RegistrySuite(t, func(t *testing.T, l pushtest.Limits) func() push.Registry {
		next := clients(t)
		cfg := redis.RegistryConfig{MaxDevicesPerIdentity: l.MaxDevicesPerIdentity, MaxDevices: l.MaxDevices}
		return func() push.Registry { return next().Registry(cfg) }
	})
}
