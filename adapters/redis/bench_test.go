package redis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/adapters/redis"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// The cost of one operation against the local Redis, one caller at a time
// (round trips dominate: see docs/benchmarks.md for the numbers measured).

func BenchmarkStoreUpdate(b *testing.B) {
	ctx := context.Background()
	st := clients(b)().Store()
	if err := st.Sessions().Create(ctx, &rooms.Session{ID: "s-1", Account: "acct", Members: map[string]*rooms.Member{}}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := st.Sessions().Update(ctx, "acct", "s-1", func(s *rooms.Session) error { s.LastActivity = time.Now(); return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreUpdateMembership(b *testing.B) {
	ctx := context.Background()
	st := clients(b)().Store()
	st.Sessions().Create(ctx, &rooms.Session{ID: "s-1", Account: "acct", Members: map[string]*rooms.Member{}})
	st.Participants().Create(ctx, &rooms.Participant{ID: "p-1", Account: "acct"})
	for b.Loop() {
		if err := st.UpdateMembership(ctx, "acct", "s-1", "p-1", func(s *rooms.Session, p *rooms.Participant) error {
			s.Tag, p.Tag = "x", "x"
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPresenceClaimRelease(b *testing.B) {
	ctx := context.Background()
	p := clients(b)().Presence(redis.PresenceConfig{})
	i := 0
	for b.Loop() {
		id := fmt.Sprint("call-", i)
		i++
		if ok, err := p.Claim(ctx, "acct", "alice", id); err != nil || !ok {
			b.Fatal(ok, err)
		}
		if err := p.Release(ctx, "acct", "alice", id); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReplayRevoked(b *testing.B) {
	ctx := context.Background()
	r := clients(b)().ReplayCache(redis.ReplayCacheConfig{})
	for b.Loop() {
		if _, err := r.Revoked(ctx, "acct\x00jti"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNodesPlace(b *testing.B) {
	ctx := context.Background()
	next := clients(b)
	var nodes []*redis.Nodes
	for i := range 3 {
		n, _ := next().Nodes(redis.NodesConfig{ID: fmt.Sprint("node-", i)})
		n.Heartbeat(ctx)
		nodes = append(nodes, n)
	}
	i := 0
	for b.Loop() {
		if _, err := nodes[i%3].Place(ctx, "acct", fmt.Sprint("room-", i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
