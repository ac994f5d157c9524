package rooms_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/rooms"
)

var (
	mic    = rooms.Stream{Alias: rooms.AliasMicrophone, Media: auth.MediaAudio}
	cam    = rooms.Stream{Alias: rooms.AliasCamera, Media: auth.MediaVideo}
	screen = rooms.Stream{Alias: rooms.AliasScreenShare, Media: auth.MediaVideo}
)

func ref(pid, alias string) rooms.StreamRef { return rooms.StreamRef{ParticipantID: pid, Alias: alias} }

// The subscription rules as a pure function, table-driven.
func TestReceivesRules(t *testing.T) {
	session := func(subs map[string]*rooms.Subscriptions) *rooms.Session {
		s := &rooms.Session{ID: "S", Members: map[string]*rooms.Member{}}
		for pid, sub := range subs {
			s.Members[pid] = &rooms.Member{Subscriptions: sub}
		}
		return s
	}
	parts := map[string]*rooms.Participant{
		"a": {ID: "a", Streams: []rooms.Stream{mic, cam}},
		"b": {ID: "b", Streams: []rooms.Stream{mic, cam, screen}},
		"c": {ID: "c", Streams: []rooms.Stream{mic}},
		"x": {ID: "x", Streams: []rooms.Stream{mic}}, // not a member
	}
	all := rooms.Everyone("S")
	cases := []struct {
		name string
		subs *rooms.Subscriptions
		want []rooms.StreamRef
	}{
		{"sessionId alone: everyone else, every stream", all,
			[]rooms.StreamRef{ref("b", "camera"), ref("b", "microphone"), ref("b", "screenShare"), ref("c", "microphone")}},
		{"participants override sessionId", &rooms.Subscriptions{SessionID: "S", Participants: []rooms.ParticipantSubscription{{ParticipantID: "c"}}},
			[]rooms.StreamRef{ref("c", "microphone")}},
		{"stream aliases narrow", &rooms.Subscriptions{Participants: []rooms.ParticipantSubscription{{ParticipantID: "b", StreamAliases: []string{"screenShare"}}}},
			[]rooms.StreamRef{ref("b", "screenShare")}},
		{"alias not published yet: nothing (yet)", &rooms.Subscriptions{Participants: []rooms.ParticipantSubscription{{ParticipantID: "c", StreamAliases: []string{"camera"}}}}, nil},
		{"both empty: nothing", &rooms.Subscriptions{}, nil},
		{"nil: nothing", nil, nil},
		{"own streams never", &rooms.Subscriptions{Participants: []rooms.ParticipantSubscription{{ParticipantID: "a"}}}, nil},
		{"non-member never", &rooms.Subscriptions{Participants: []rooms.ParticipantSubscription{{ParticipantID: "x"}}}, nil},
		{"sessionId of another session: nothing", rooms.Everyone("OTHER"), nil},
		{"duplicates collapse", &rooms.Subscriptions{Participants: []rooms.ParticipantSubscription{{ParticipantID: "c"}, {ParticipantID: "c", StreamAliases: []string{"microphone"}}}},
			[]rooms.StreamRef{ref("c", "microphone")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := session(map[string]*rooms.Subscriptions{"a": tc.subs, "b": all, "c": all})
			got := rooms.Receives(s, parts, "a")
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if got := rooms.Receives(session(map[string]*rooms.Subscriptions{"a": all}), parts, "x"); got != nil {
		t.Fatalf("non-member receives %v", got)
	}
}

// A stream alias that appears after the subscription was set starts to flow.
func TestReceivesAliasAppearsLater(t *testing.T) {
	ctx := context.Background()
	m, _ := rooms.NewManager(rooms.Config{})
	a := mustParticipant(t, m, "acct")
	b := mustParticipant(t, m, "acct")
	s, _ := m.CreateSession(ctx, "acct", "")
	must(t, m.AddParticipant(ctx, "acct", s.ID, a.ID, &rooms.Subscriptions{Participants: []rooms.ParticipantSubscription{{ParticipantID: b.ID, StreamAliases: []string{"screenShare"}}}}))
	must(t, m.AddParticipant(ctx, "acct", s.ID, b.ID, nil))
	must(t, m.SetStreams(ctx, "acct", b.ID, []rooms.Stream{mic}))
	if got, _ := m.Receives(ctx, "acct", s.ID, a.ID); len(got) != 0 {
		t.Fatalf("before screen share: %v", got)
	}
	must(t, m.SetStreams(ctx, "acct", b.ID, []rooms.Stream{mic, screen}))
	got, _ := m.Receives(ctx, "acct", s.ID, a.ID)
	if !reflect.DeepEqual(got, []rooms.StreamRef{ref(b.ID, "screenShare")}) {
		t.Fatalf("after screen share: %v", got)
	}
}

// Supervisor whisper: the agent hears caller and supervisor, the caller
// hears only the agent, the supervisor hears both. Third-party call control
// is nothing but subscriptions.
func TestWhisper(t *testing.T) {
	ctx := context.Background()
	m, _ := rooms.NewManager(rooms.Config{})
	const acct = "call-center"
	caller := mustParticipant(t, m, acct)
	agent := mustParticipant(t, m, acct)
	sup := mustParticipant(t, m, acct)
	s, _ := m.CreateSession(ctx, acct, "support-call")
	only := func(ids ...string) *rooms.Subscriptions {
		subs := &rooms.Subscriptions{}
		for _, id := range ids {
			subs.Participants = append(subs.Participants, rooms.ParticipantSubscription{ParticipantID: id})
		}
		return subs
	}
	must(t, m.AddParticipant(ctx, acct, s.ID, caller.ID, only(agent.ID)))
	must(t, m.AddParticipant(ctx, acct, s.ID, agent.ID, nil)) // everyone
	must(t, m.AddParticipant(ctx, acct, s.ID, sup.ID, nil))
	for _, p := range []*rooms.Participant{caller, agent, sup} {
		must(t, m.SetStreams(ctx, acct, p.ID, []rooms.Stream{mic}))
	}
	hears := func(p *rooms.Participant) map[string]bool {
		got, err := m.Receives(ctx, acct, s.ID, p.ID)
		must(t, err)
		out := map[string]bool{}
		for _, r := range got {
			out[r.ParticipantID] = true
		}
		return out
	}
	if h := hears(caller); len(h) != 1 || !h[agent.ID] {
		t.Errorf("caller hears %v, want only the agent", h)
	}
	if h := hears(agent); len(h) != 2 || !h[caller.ID] || !h[sup.ID] {
		t.Errorf("agent hears %v, want caller and supervisor", h)
	}
	if h := hears(sup); len(h) != 2 || !h[caller.ID] || !h[agent.ID] {
		t.Errorf("supervisor hears %v, want caller and agent", h)
	}
	// Barge-in: the supervisor becomes audible to the caller too.
	must(t, m.SetSubscriptions(ctx, acct, s.ID, caller.ID, only(agent.ID, sup.ID)))
	if h := hears(caller); len(h) != 2 {
		t.Errorf("after barge-in caller hears %v", h)
	}
}
