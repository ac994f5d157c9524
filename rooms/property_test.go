package rooms_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// Random add/remove/subscribe/publish sequences from 8 goroutines over
// several sessions never break the invariants. Run with -race.
func TestInvariantsUnderConcurrency(t *testing.T) {
	for seed := range uint64(4) {
		checkInvariants(t, seed)
	}
}

// FuzzInvariants drives the same operations from fuzzer-chosen bytes, one goroutine.
func FuzzInvariants(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		w := newWorld(t, 3, 4, 8)
		for i := 0; i+2 < len(ops); i += 3 {
			w.step(int(ops[i]), int(ops[i+1]), int(ops[i+2]))
		}
		w.check(t)
	})
}

type world struct {
	m        *rooms.Manager
	sessions []string
	parts    []string
	maxPer   int
	maxSess  int
}

const acct = "acct"

func newWorld(t testing.TB, nSessions, maxPer, nParts int) *world {
	w := &world{maxPer: maxPer, maxSess: 2}
	w.m, _ = rooms.NewManager(rooms.Config{MaxParticipantsPerSession: maxPer, MaxSessionsPerParticipant: w.maxSess})
	for range nSessions {
		s, err := w.m.CreateSession(context.Background(), acct, "")
		must(t, err)
		w.sessions = append(w.sessions, s.ID)
	}
	for range nParts {
		w.parts = append(w.parts, mustParticipant(t, w.m, acct).ID)
	}
	return w
}

// step runs one operation chosen by op on session si and participants pi/qj.
func (w *world) step(op, a, b int) {
	ctx := context.Background()
	sid := w.sessions[a%len(w.sessions)]
	pid := w.parts[b%len(w.parts)]
	qid := w.parts[(a+b)%len(w.parts)]
	var err error
	switch op % 6 {
	case 0:
		err = w.m.AddParticipant(ctx, acct, sid, pid, nil)
	case 1:
		err = w.m.RemoveParticipant(ctx, acct, sid, pid)
	case 2:
		err = w.m.SetSubscriptions(ctx, acct, sid, pid, &rooms.Subscriptions{Participants: []rooms.ParticipantSubscription{{ParticipantID: qid}}})
	case 3:
		err = w.m.SetSubscriptions(ctx, acct, sid, pid, rooms.Everyone(sid))
	case 4:
		streams := []rooms.Stream{mic}
		if a%2 == 0 {
			streams = append(streams, rooms.Stream{Alias: "camera", Media: auth.MediaVideo})
		}
		err = w.m.SetStreams(ctx, acct, pid, streams)
	case 5:
		err = w.m.AddParticipant(ctx, acct, sid, pid, &rooms.Subscriptions{Participants: []rooms.ParticipantSubscription{{ParticipantID: qid, StreamAliases: []string{"camera"}}}})
	}
	// Only the documented refusals may happen.
	if err != nil && !errors.Is(err, rooms.ErrSessionFull) && !errors.Is(err, rooms.ErrTooManySessions) && !errors.Is(err, rooms.ErrNotMember) {
		panic(err)
	}
}

func (w *world) check(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	inSession := map[string][]string{}
	for _, sid := range w.sessions {
		v, err := w.m.View(ctx, acct, sid)
		must(t, err)
		if len(v.Session.Members) > w.maxPer {
			t.Fatalf("session %s has %d members, limit %d", sid, len(v.Session.Members), w.maxPer)
		}
		for pid := range v.Session.Members {
			inSession[pid] = append(inSession[pid], sid)
			for _, r := range v.Receives(pid) {
				if r.ParticipantID == pid {
					t.Fatalf("%s receives its own stream", pid)
				}
				if _, ok := v.Session.Members[r.ParticipantID]; !ok {
					t.Fatalf("%s receives from %s, who is not in session %s", pid, r.ParticipantID, sid)
				}
			}
		}
	}
	for _, pid := range w.parts {
		p, err := w.m.Participant(ctx, acct, pid)
		must(t, err)
		if len(p.Sessions) > w.maxSess {
			t.Fatalf("%s in %d sessions, limit %d", pid, len(p.Sessions), w.maxSess)
		}
		// The two sides of membership agree once the writers are done.
		if len(p.Sessions) != len(inSession[pid]) {
			t.Fatalf("%s lists sessions %v, sessions list it in %v", pid, p.Sessions, inSession[pid])
		}
	}
}

func checkInvariants(t *testing.T, seed uint64) {
	w := newWorld(t, 4, 5, 16)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			for range 400 {
				w.step(r.IntN(6), r.IntN(64), r.IntN(64))
			}
		}()
	}
	wg.Wait()
	w.check(t)
}
