package rooms_test

import (
	"context"
	"fmt"

	"github.com/switchboard-rtc/switchboard/auth"
	"github.com/switchboard-rtc/switchboard/rooms"
)

// A supervisor whisper is only subscriptions: the caller hears the agent
// alone, while the agent hears caller and supervisor.
func ExampleManager_whisper() {
	ctx := context.Background()
	m, _ := rooms.NewManager(rooms.Config{})
	newP := func() string {
		p, _ := m.CreateParticipant(ctx, "acct", rooms.ParticipantSpec{PublishPermissions: []auth.Media{auth.MediaAudio}})
		_ = m.SetStreams(ctx, "acct", p.ID, []rooms.Stream{{Alias: "microphone", Media: auth.MediaAudio}})
		return p.ID
	}
	caller, agent, supervisor := newP(), newP(), newP()
	s, _ := m.CreateSession(ctx, "acct", "call-42")
	_ = m.AddParticipant(ctx, "acct", s.ID, caller, &rooms.Subscriptions{
		Participants: []rooms.ParticipantSubscription{{ParticipantID: agent}},
	})
	_ = m.AddParticipant(ctx, "acct", s.ID, agent, nil)      // nil: everyone in the session
	_ = m.AddParticipant(ctx, "acct", s.ID, supervisor, nil) // hears everyone

	callerHears, _ := m.Receives(ctx, "acct", s.ID, caller)
	agentHears, _ := m.Receives(ctx, "acct", s.ID, agent)
	fmt.Println(len(callerHears), callerHears[0].ParticipantID == agent, len(agentHears))
	// Output: 1 true 2
}

// Rooms by name are created on first join, everyone subscribed to everyone.
func ExampleManager_JoinRoom() {
	ctx := context.Background()
	m, _ := rooms.NewManager(rooms.Config{})
	a, _ := m.CreateParticipant(ctx, "acct", rooms.ParticipantSpec{})
	b, _ := m.CreateParticipant(ctx, "acct", rooms.ParticipantSpec{})
	_, _ = m.JoinRoom(ctx, "acct", "standup", a.ID)
	s, _ := m.JoinRoom(ctx, "acct", "standup", b.ID)
	fmt.Println(s.Room, len(s.Members))
	// Output: standup 2
}
