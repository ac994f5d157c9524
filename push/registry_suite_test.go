package push_test

import (
	"testing"

	"github.com/switchboard-rtc/switchboard/push"
	"github.com/switchboard-rtc/switchboard/push/pushtest"
)

// MemoryRegistry passes the conformance suite every shared registry must
// pass (adapters/redis runs the same one).
func TestRegistrySuite(t *testing.T) {
	pushtest.RegistrySuite(t, func(_ *testing.T, l pushtest.Limits) func() push.Registry {
		r := push.NewMemoryRegistry(push.MemoryRegistryConfig{MaxDevicesPerIdentity: l.MaxDevicesPerIdentity, MaxDevices: l.MaxDevices})
		return func() push.Registry { return r }
	})
}
