package auth_test

import (
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/auth/authtest"
	"github.com/switchboard-rtc/switchboard/internal/clocktest"
)

// MemoryReplayCache passes the conformance suite every shared cache must
// pass (adapters/redis runs the same one), on a clock moved by hand.
func TestReplayCacheSuite(t *testing.T) {
	authtest.ReplayCacheSuite(t, func(*testing.T) authtest.ReplayCacheHarness {
		clock := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		c := auth.NewMemoryReplayCache(auth.MemoryReplayCacheConfig{Clock: clock})
		return authtest.ReplayCacheHarness{
			New:     func() auth.ReplayCache { return c },
			Now:     clock.Now,
			Advance: clock.Advance,
		}
	})
}
