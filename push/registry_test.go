package push_test

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

var ctx = context.Background()

// apnsToken returns a distinct 64-digit hex token.
func apnsToken(i int) string { return fmt.Sprintf("%064x", i+1) }

func register(t *testing.T, r push.Registry, account, identity string, p push.Platform, token string) push.Device {
	t.Helper()
	d, err := r.Register(ctx, push.Device{Account: account, Identity: identity, Platform: p, Token: token})
	if err != nil {
		t.Fatalf("register %s/%s: %v", account, identity, err)
	}
	return d
}

func TestMemoryRegistryDeviceLimit(t *testing.T) {
	r := push.NewMemoryRegistry(push.MemoryRegistryConfig{MaxDevicesPerIdentity: 3})
	for i := range 3 {
		register(t, r, "a1", "alice", push.APNs, apnsToken(i))
	}
	if _, err := r.Register(ctx, push.Device{Account: "a1", Identity: "alice", Platform: push.FCM, Token: "fcm-4"}); !errors.Is(err, push.ErrTooManyDevices) {
		t.Fatalf("fourth device: %v, want ErrTooManyDevices", err)
	}
	// Registering a token the identity already has is not one more.
	if _, err := r.Register(ctx, push.Device{Account: "a1", Identity: "alice", Platform: push.APNs, Token: apnsToken(0)}); err != nil {
		t.Fatalf("re-register at the limit: %v", err)
	}
	// Another identity, and the same identity in another account, have their own limit.
	register(t, r, "a1", "bob", push.FCM, "fcm-4")
	register(t, r, "a2", "alice", push.FCM, "fcm-5")
	ds, _ := r.Devices(ctx, "a1", "alice")
	if len(ds) != 3 {
		t.Fatalf("alice has %d devices, want 3", len(ds))
	}
}

func TestMemoryRegistryTotalLimit(t *testing.T) {
	r := push.NewMemoryRegistry(push.MemoryRegistryConfig{MaxDevices: 2})
	register(t, r, "a", "alice", push.FCM, "t1")
	register(t, r, "a", "bob", push.FCM, "t2")
	if _, err := r.Register(ctx, push.Device{Account: "a", Identity: "carol", Platform: push.FCM, Token: "t3"}); !errors.Is(err, push.ErrRegistryFull) {
		t.Fatalf("third device: %v, want ErrRegistryFull", err)
	}
	// A token that moves does not grow the registry: allowed when full.
	d := register(t, r, "a", "carol", push.FCM, "t2")
	if r.Len() != 2 || d.Identity != "carol" {
		t.Fatalf("len %d, device %+v", r.Len(), d)
	}
}

func TestMemoryRegistryTokenMoves(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	r := push.NewMemoryRegistry(push.MemoryRegistryConfig{Clock: fixedClock{now}})
	old := register(t, r, "a1", "alice", push.APNs, strings.ToUpper(apnsToken(7)))
	if old.Token != apnsToken(7) || !strings.HasPrefix(old.ID, "d-") || !old.CreatedAt.Equal(now) {
		t.Fatalf("registered %+v: token lower-cased, id d-…, createdAt from the clock", old)
	}
	// The same identity again: same device, new app and sandbox.
	again, err := r.Register(ctx, push.Device{Account: "a1", Identity: "alice", Platform: push.APNs, Token: apnsToken(7), App: "com.example.app", Sandbox: true})
	if err != nil || again.ID != old.ID || again.App != "com.example.app" || !again.Sandbox {
		t.Fatalf("re-register: %+v %v", again, err)
	}
	// Another identity (here in another account): the token moves, with a new id.
	moved := register(t, r, "a2", "bob", push.APNs, apnsToken(7))
	if moved.ID == old.ID {
		t.Fatal("a moved token keeps its old id")
	}
	if ds, _ := r.Devices(ctx, "a1", "alice"); len(ds) != 0 {
		t.Fatalf("alice still has %+v", ds)
	}
	if err := r.Remove(ctx, "a1", "alice", old.ID); !errors.Is(err, push.ErrDeviceNotFound) {
		t.Fatalf("remove the old id: %v", err)
	}
	// The same token string on the other platform is another device.
	register(t, r, "a1", "alice", push.FCM, apnsToken(7))
	if r.Len() != 2 {
		t.Fatalf("len %d, want 2", r.Len())
	}
}

func TestMemoryRegistryRemoveIsScoped(t *testing.T) {
	r := push.NewMemoryRegistry(push.MemoryRegistryConfig{})
	d := register(t, r, "a1", "alice", push.FCM, "tok")
	for _, tc := range [][2]string{{"a1", "bob"}, {"a2", "alice"}} {
		if err := r.Remove(ctx, tc[0], tc[1], d.ID); !errors.Is(err, push.ErrDeviceNotFound) {
			t.Fatalf("remove as %v: %v", tc, err)
		}
	}
	if err := r.Remove(ctx, "a1", "alice", d.ID); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 0 {
		t.Fatal("not removed")
	}
}

func TestNormalizeToken(t *testing.T) {
	hex := func(n int) string { return strings.Repeat("a", n) }
	printable := func(n int) string { return strings.Repeat("x", n) }
	for _, tc := range []struct {
		p     push.Platform
		token string
		ok    bool
	}{
		{push.APNs, hex(64), true},
		{push.APNs, hex(63), false},
		{push.APNs, hex(200), true},
		{push.APNs, hex(201), false},
		{push.APNs, "ABCDEF" + hex(58), true},
		{push.APNs, "g" + hex(63), false},
		{push.APNs, " " + hex(64), false},
		{push.FCM, printable(4096), true},
		{push.FCM, printable(4097), false},
		{push.FCM, "", false},
		{push.FCM, "dGVzdA:APA91b-_~!", true},
		{push.FCM, "has space", false},
		{push.FCM, "tab\there", false},
		{push.FCM, "é", false},
		{"webpush", "x", false},
	} {
		_, err := push.NormalizeToken(tc.p, tc.token)
		if (err == nil) != tc.ok {
			t.Errorf("%s %.20q (len %d): err %v, want ok=%v", tc.p, tc.token, len(tc.token), err, tc.ok)
		}
	}
}

// Many goroutines registering, listing and removing at once: the indexes
// stay consistent (run with -race).
func TestMemoryRegistryConcurrent(t *testing.T) {
	r := push.NewMemoryRegistry(push.MemoryRegistryConfig{MaxDevicesPerIdentity: 1000})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				// Tokens shared between goroutines move between identities.
				tok := apnsToken(i % 20)
				id := fmt.Sprintf("user-%d", g%3)
				d, err := r.Register(ctx, push.Device{Account: "a", Identity: id, Platform: push.APNs, Token: tok})
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = r.Devices(ctx, "a", id)
				if i%5 == 0 {
					_ = r.Remove(ctx, "a", id, d.ID)
				}
			}
		})
	}
	wg.Wait()
	total := 0
	seen := map[string]bool{}
	for g := range 3 {
		ds, _ := r.Devices(ctx, "a", fmt.Sprintf("user-%d", g))
		for _, d := range ds {
			if seen[d.Token] {
				t.Fatalf("token %s is registered twice", d.Token)
			}
			seen[d.Token] = true
		}
		total += len(ds)
	}
	if total != r.Len() || total > 20 {
		t.Fatalf("identities hold %d devices, registry %d (at most 20 tokens)", total, r.Len())
	}
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }
func (c fixedClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
