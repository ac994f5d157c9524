package roomstest

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// Random add/remove/subscribe/publish sequences from 8 goroutines, through
// two Managers on two handles of the store, never break the invariants: no
// session above its member limit, no participant above its session limit,
// nobody receives a stream of someone outside the session or their own,
// and once the writers are done a session's member list and each
// participant's session list agree.
func testManagerInvariants(t *testing.T, handle func() rooms.Store) {
	const (
		nSessions, maxPer, nParts, maxSessions = 4, 5, 16, 2
		goroutines, steps                      = 8, 120
	)
	ctx := context.Background()
	var nodes []*rooms.Manager
	for range 2 {
		m, err := rooms.NewManager(rooms.Config{Store: handle(), MaxParticipantsPerSession: maxPer, MaxSessionsPerParticipant: maxSessions})
		must(t, err)
		nodes = append(nodes, m)
	}
	var sessions, parts []string
	for range nSessions {
		s, err := nodes[0].CreateSession(ctx, acctA, "")
		must(t, err)
		sessions = append(sessions, s.ID)
	}
	for range nParts {
		p, err := nodes[1].CreateParticipant(ctx, acctA, rooms.ParticipantSpec{PublishPermissions: []auth.Media{auth.MediaAudio, auth.MediaVideo}})
		must(t, err)
		parts = append(parts, p.ID)
	}
	mic := rooms.Stream{Alias: rooms.AliasMicrophone, Media: auth.MediaAudio}
	cam := rooms.Stream{Alias: rooms.AliasCamera, Media: auth.MediaVideo}
	step := func(m *rooms.Manager, op, a, b int) error {
		sid := sessions[a%len(sessions)]
		pid := parts[b%len(parts)]
		qid := parts[(a+b)%len(parts)]
		var err error
		switch op % 6 {
		case 0:
			err = m.AddParticipant(ctx, acctA, sid, pid, nil)
		case 1:
			err = m.RemoveParticipant(ctx, acctA, sid, pid)
		case 2:
			err = m.SetSubscriptions(ctx, acctA, sid, pid, &rooms.Subscriptions{Participants: []rooms.ParticipantSubscription{{ParticipantID: qid}}})
		case 3:
			err = m.SetSubscriptions(ctx, acctA, sid, pid, rooms.Everyone(sid))
		case 4:
			streams := []rooms.Stream{mic}
			if a%2 == 0 {
				streams = append(streams, cam)
			}
			err = m.SetStreams(ctx, acctA, pid, streams)
		case 5:
			err = m.AddParticipant(ctx, acctA, sid, pid, &rooms.Subscriptions{Participants: []rooms.ParticipantSubscription{{ParticipantID: qid, StreamAliases: []string{rooms.AliasCamera}}}})
		}
		// Only the documented refusals may happen.
		if err != nil && !errors.Is(err, rooms.ErrSessionFull) && !errors.Is(err, rooms.ErrTooManySessions) && !errors.Is(err, rooms.ErrNotMember) {
			return err
		}
		return nil
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		m := nodes[g%2]
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(len(t.Name())), uint64(g)))
			for range steps {
				if err := step(m, r.IntN(6), r.IntN(64), r.IntN(64)); err != nil {
					t.Errorf("an undocumented refusal: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	inSession := map[string][]string{}
	for _, sid := range sessions {
		v, err := nodes[0].View(ctx, acctA, sid)
		must(t, err)
		if len(v.Session.Members) > maxPer {
			t.Fatalf("session %s has %d members, limit %d", sid, len(v.Session.Members), maxPer)
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
	for _, pid := range parts {
		p, err := nodes[1].Participant(ctx, acctA, pid)
		must(t, err)
		if len(p.Sessions) > maxSessions {
			t.Fatalf("%s in %d sessions, limit %d", pid, len(p.Sessions), maxSessions)
		}
		if len(p.Sessions) != len(inSession[pid]) {
			t.Fatalf("%s lists sessions %v, sessions list it in %v", pid, p.Sessions, inSession[pid])
		}
		for _, sid := range p.Sessions {
			found := false
			for _, s := range inSession[pid] {
				found = found || s == sid
			}
			if !found {
				t.Fatalf("%s lists session %s, which does not list it", pid, sid)
			}
		}
	}
}
