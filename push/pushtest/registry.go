// Package pushtest holds the conformance suite of push's Registry seam. The
// MemoryRegistry and adapters/redis run the same suite, so a registry
// shared between nodes behaves as one process's does; an implementation
// outside this module can run it too.
package pushtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/push"
)

// Limits are the bounds the suite asks a registry for.
type Limits struct {
	MaxDevicesPerIdentity int
	MaxDevices            int
}

// NewRegistry returns a constructor of handles on one fresh, empty registry
// with the given limits: each call returns a push.Registry over the same
// devices, as the nodes of one deployment see them (a process-local
// registry returns itself every time; a shared one returns a new client).
// It cleans up after itself with t.Cleanup.
type NewRegistry func(t *testing.T, limits Limits) func() push.Registry

// RegistrySuite tests a push.Registry against its contract: a device comes
// back as registered (ID and CreatedAt assigned, the token normalised);
// the same token registered again by the same identity keeps its ID and
// CreatedAt and takes the new App and Sandbox; registered by another
// identity or account it moves there, atomically, even when many race;
// Devices lists oldest first and only the identity's own; Remove finds
// only the identity's own devices; MaxDevicesPerIdentity and MaxDevices
// hold at the limit and one past it, also under concurrent registrations;
// invalid devices are refused with the validation errors.
func RegistrySuite(t *testing.T, newRegistry NewRegistry) {
	big := Limits{MaxDevicesPerIdentity: 10, MaxDevices: 1000}
	t.Run("RegisterAndList", func(t *testing.T) { testRegister(t, newRegistry(t, big)) })
	t.Run("SameIdentityKeepsDevice", func(t *testing.T) { testReRegister(t, newRegistry(t, big)) })
	t.Run("TokenMoves", func(t *testing.T) { testMove(t, newRegistry(t, big)) })
	t.Run("Remove", func(t *testing.T) { testRemove(t, newRegistry(t, big)) })
	t.Run("Invalid", func(t *testing.T) { testInvalid(t, newRegistry(t, big)) })
	t.Run("PerIdentityLimit", func(t *testing.T) {
		testPerIdentity(t, newRegistry(t, Limits{MaxDevicesPerIdentity: 3, MaxDevices: 1000}))
	})
	t.Run("TotalLimit", func(t *testing.T) { testTotal(t, newRegistry(t, Limits{MaxDevicesPerIdentity: 10, MaxDevices: 4})) })
	t.Run("ConcurrentLimits", func(t *testing.T) {
		testConcurrentLimits(t, newRegistry(t, Limits{MaxDevicesPerIdentity: 5, MaxDevices: 1000}))
	})
	t.Run("ConcurrentMoves", func(t *testing.T) { testConcurrentMoves(t, newRegistry(t, big)) })
}

// apnsToken returns a valid APNs token (64 hex digits, upper case).
func apnsToken(n int) string { return fmt.Sprintf("%064X", n+0xABC000) }

func fcmToken(n int) string { return fmt.Sprintf("fcm:token-%d_x", n) }

func dev(account, identity, token string) push.Device {
	return push.Device{Account: account, Identity: identity, Platform: push.FCM, Token: token}
}

func register(t *testing.T, r push.Registry, d push.Device) push.Device {
	t.Helper()
	got, err := r.Register(context.Background(), d)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	return got
}

func devices(t *testing.T, r push.Registry, account, identity string) []push.Device {
	t.Helper()
	l, err := r.Devices(context.Background(), account, identity)
	if err != nil {
		t.Fatalf("Devices: %v", err)
	}
	return l
}

func same(a, b push.Device) bool {
	return a.ID == b.ID && a.Account == b.Account && a.Identity == b.Identity && a.Platform == b.Platform &&
		a.Token == b.Token && a.App == b.App && a.Sandbox == b.Sandbox && a.CreatedAt.Equal(b.CreatedAt)
}

func ids(l []push.Device) []string {
	out := make([]string, len(l))
	for i, d := range l {
		out[i] = d.ID
	}
	return out
}

func testRegister(t *testing.T, handle func() push.Registry) {
	a, b := handle(), handle()
	before := time.Now().Add(-time.Minute)
	d := register(t, a, push.Device{Account: "acct", Identity: "alice", Platform: push.APNs, Token: apnsToken(1), App: "com.example.voip", Sandbox: true})
	if !strings.HasPrefix(d.ID, "d-") || d.CreatedAt.Before(before) {
		t.Fatalf("registered device %+v: want an id d-… and CreatedAt now", d)
	}
	if d.Token != strings.ToLower(apnsToken(1)) {
		t.Fatalf("APNs token %q not normalised to lower case", d.Token)
	}
	l := devices(t, b, "acct", "alice")
	if len(l) != 1 || !same(l[0], d) {
		t.Fatalf("Devices through another handle: %+v, want [%+v]", l, d)
	}
	// Oldest first, across platforms.
	d2 := register(t, b, dev("acct", "alice", fcmToken(2)))
	d3 := register(t, a, dev("acct", "alice", fcmToken(3)))
	if got := ids(devices(t, a, "acct", "alice")); fmt.Sprint(got) != fmt.Sprint([]string{d.ID, d2.ID, d3.ID}) {
		t.Fatalf("Devices order %v, want oldest first %v", got, []string{d.ID, d2.ID, d3.ID})
	}
	if l := devices(t, a, "acct", "bob"); len(l) != 0 {
		t.Fatalf("bob has %d devices", len(l))
	}
	if l := devices(t, a, "other", "alice"); len(l) != 0 {
		t.Fatalf("alice of another account has %d devices", len(l))
	}
}

func testReRegister(t *testing.T, handle func() push.Registry) {
	a, b := handle(), handle()
	first := register(t, a, push.Device{Account: "acct", Identity: "alice", Platform: push.APNs, Token: apnsToken(1), App: "com.example.a"})
	again := register(t, b, push.Device{Account: "acct", Identity: "alice", Platform: push.APNs, Token: strings.ToLower(apnsToken(1)), App: "com.example.b", Sandbox: true})
	if again.ID != first.ID || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("re-registering gave id %s at %v, want %s at %v", again.ID, again.CreatedAt, first.ID, first.CreatedAt)
	}
	if again.App != "com.example.b" || !again.Sandbox {
		t.Fatalf("re-registering did not take the new App and Sandbox: %+v", again)
	}
	l := devices(t, a, "acct", "alice")
	if len(l) != 1 || !same(l[0], again) {
		t.Fatalf("after re-registering: %+v", l)
	}
	// The same token string on the other platform is another device.
	other := register(t, a, dev("acct", "alice", strings.ToLower(apnsToken(1))))
	if other.ID == first.ID || len(devices(t, a, "acct", "alice")) != 2 {
		t.Fatal("an FCM token equal to an APNs token replaced it")
	}
}

func testMove(t *testing.T, handle func() push.Registry) {
	a, b := handle(), handle()
	alice := register(t, a, dev("acct", "alice", fcmToken(1)))
	keep := register(t, a, dev("acct", "alice", fcmToken(2)))
	bob := register(t, b, dev("acct", "bob", fcmToken(1)))
	if bob.ID == alice.ID {
		t.Fatal("a moved token kept its old device id")
	}
	if l := devices(t, a, "acct", "alice"); len(l) != 1 || l[0].ID != keep.ID {
		t.Fatalf("alice still has %v after bob registered her token", ids(l))
	}
	if l := devices(t, a, "acct", "bob"); len(l) != 1 || l[0].ID != bob.ID {
		t.Fatalf("bob has %v", ids(l))
	}
	if err := a.Remove(context.Background(), "acct", "alice", alice.ID); !errors.Is(err, push.ErrDeviceNotFound) {
		t.Fatalf("removing alice's moved device: %v, want ErrDeviceNotFound", err)
	}
	// Across accounts too.
	carol := register(t, b, dev("other", "carol", fcmToken(1)))
	if l := devices(t, a, "acct", "bob"); len(l) != 0 {
		t.Fatalf("bob still has %v after carol of another account registered the token", ids(l))
	}
	if l := devices(t, a, "other", "carol"); len(l) != 1 || l[0].ID != carol.ID {
		t.Fatalf("carol has %v", ids(l))
	}
}

func testRemove(t *testing.T, handle func() push.Registry) {
	ctx := context.Background()
	a, b := handle(), handle()
	d := register(t, a, dev("acct", "alice", fcmToken(1)))
	for _, who := range []struct{ account, identity string }{{"acct", "bob"}, {"other", "alice"}} {
		if err := b.Remove(ctx, who.account, who.identity, d.ID); !errors.Is(err, push.ErrDeviceNotFound) {
			t.Fatalf("%s/%s removing alice's device: %v, want ErrDeviceNotFound", who.account, who.identity, err)
		}
	}
	if err := b.Remove(ctx, "acct", "alice", "d-missing"); !errors.Is(err, push.ErrDeviceNotFound) {
		t.Fatalf("removing an unknown id: %v", err)
	}
	if err := b.Remove(ctx, "acct", "alice", d.ID); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if err := a.Remove(ctx, "acct", "alice", d.ID); !errors.Is(err, push.ErrDeviceNotFound) {
		t.Fatalf("second Remove: %v", err)
	}
	if l := devices(t, a, "acct", "alice"); len(l) != 0 {
		t.Fatalf("alice has %v after Remove", ids(l))
	}
	// The token is free: registering it again is a new device, for anyone.
	again := register(t, a, dev("acct", "bob", fcmToken(1)))
	if again.ID == d.ID {
		t.Fatal("a removed device came back")
	}
}

func testInvalid(t *testing.T, handle func() push.Registry) {
	r := handle()
	for _, tc := range []struct {
		d    push.Device
		want error
	}{
		{push.Device{Account: "acct", Identity: "alice", Platform: "sms", Token: "x"}, push.ErrInvalidPlatform},
		{push.Device{Account: "acct", Identity: "alice", Platform: push.APNs, Token: "abc"}, push.ErrInvalidPushToken},
		{push.Device{Account: "acct", Identity: "alice", Platform: push.FCM, Token: "has space"}, push.ErrInvalidPushToken},
		{push.Device{Account: "acct", Identity: "alice", Platform: push.FCM, Token: "t", App: "bad app"}, push.ErrInvalidApp},
		{push.Device{Account: "", Identity: "alice", Platform: push.FCM, Token: "t"}, push.ErrInvalidDevice},
		{push.Device{Account: "acct", Identity: "", Platform: push.FCM, Token: "t"}, push.ErrInvalidDevice},
	} {
		if _, err := r.Register(context.Background(), tc.d); !errors.Is(err, tc.want) {
			t.Errorf("Register(%+v): %v, want %v", tc.d, err, tc.want)
		}
	}
	if l := devices(t, r, "acct", "alice"); len(l) != 0 {
		t.Fatalf("invalid registrations stored %v", ids(l))
	}
}

func testPerIdentity(t *testing.T, handle func() push.Registry) {
	a, b := handle(), handle()
	var got []push.Device
	for i := range 3 { // at the limit
		got = append(got, register(t, []push.Registry{a, b}[i%2], dev("acct", "alice", fcmToken(i))))
	}
	if _, err := b.Register(context.Background(), dev("acct", "alice", fcmToken(3))); !errors.Is(err, push.ErrTooManyDevices) {
		t.Fatalf("one past the limit: %v, want ErrTooManyDevices", err)
	}
	// Re-registering a token alice has is not one more.
	register(t, a, dev("acct", "alice", fcmToken(1)))
	// Moving a token to an identity at its limit is refused too, and leaves
	// the token where it was.
	bobs := register(t, a, dev("acct", "bob", fcmToken(9)))
	if _, err := a.Register(context.Background(), dev("acct", "alice", fcmToken(9))); !errors.Is(err, push.ErrTooManyDevices) {
		t.Fatalf("moving a token to alice at her limit: %v, want ErrTooManyDevices", err)
	}
	if l := devices(t, b, "acct", "bob"); len(l) != 1 || l[0].ID != bobs.ID {
		t.Fatalf("a refused move took bob's device: bob has %v", ids(l))
	}
	// After a removal there is room for one.
	if err := b.Remove(context.Background(), "acct", "alice", got[0].ID); err != nil {
		t.Fatal(err)
	}
	register(t, a, dev("acct", "alice", fcmToken(3)))
	if n := len(devices(t, a, "acct", "alice")); n != 3 {
		t.Fatalf("alice has %d devices, limit 3", n)
	}
}

func testTotal(t *testing.T, handle func() push.Registry) {
	a, b := handle(), handle()
	var got []push.Device
	for i := range 4 { // at the limit, over several identities
		got = append(got, register(t, []push.Registry{a, b}[i%2], dev("acct", fmt.Sprintf("user-%d", i%2), fcmToken(i))))
	}
	if _, err := b.Register(context.Background(), dev("acct", "user-9", fcmToken(4))); !errors.Is(err, push.ErrRegistryFull) {
		t.Fatalf("one past the total: %v, want ErrRegistryFull", err)
	}
	// Moving a token adds nothing: allowed when full.
	register(t, a, dev("acct", "user-9", fcmToken(0)))
	// Re-registering is allowed when full.
	register(t, a, dev("acct", "user-1", fcmToken(1)))
	if err := a.Remove(context.Background(), "acct", "user-1", got[1].ID); err != nil {
		t.Fatal(err)
	}
	register(t, b, dev("acct", "user-9", fcmToken(4)))
	if _, err := b.Register(context.Background(), dev("acct", "user-9", fcmToken(5))); !errors.Is(err, push.ErrRegistryFull) {
		t.Fatalf("full again: %v, want ErrRegistryFull", err)
	}
}

func testConcurrentLimits(t *testing.T, handle func() push.Registry) {
	handles := []push.Registry{handle(), handle()}
	const racers, limit = 12, 5
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for i := range racers {
		r := handles[i%2]
		wg.Go(func() {
			_, err := r.Register(context.Background(), dev("acct", "alice", fcmToken(i)))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, push.ErrTooManyDevices):
				refused++
			default:
				t.Errorf("Register: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != limit || refused != racers-limit {
		t.Fatalf("%d registered, %d refused; want %d and %d", ok, refused, limit, racers-limit)
	}
	if n := len(devices(t, handles[0], "acct", "alice")); n != limit {
		t.Fatalf("alice has %d devices, limit %d", n, limit)
	}
}

// Many identities register one token at once: afterwards exactly one of
// them has it, and a wake-up would reach one phone owner only.
func testConcurrentMoves(t *testing.T, handle func() push.Registry) {
	handles := []push.Registry{handle(), handle()}
	const racers = 8
	var wg sync.WaitGroup
	for i := range racers {
		r := handles[i%2]
		wg.Go(func() {
			for range 5 {
				if _, err := r.Register(context.Background(), dev("acct", fmt.Sprintf("user-%d", i), fcmToken(42))); err != nil {
					t.Errorf("Register: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	holders := 0
	for i := range racers {
		holders += len(devices(t, handles[1], "acct", fmt.Sprintf("user-%d", i)))
	}
	if holders != 1 {
		t.Fatalf("after racing registrations %d identities hold the token, want 1", holders)
	}
}
