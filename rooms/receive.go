package rooms

import (
	"slices"
	"strings"
)

// StreamRef names one published stream.
type StreamRef struct {
	ParticipantID string `json:"participantId"`
	Alias         string `json:"streamAlias"`
}

// Receives answers "which streams does participant sub receive in session s",
// given the session and its members' current records (participants, keyed
// by id). It is a pure function of its inputs: everything that routes
// media asks it rather than recomputing the rules. The result is sorted by
// participant id, then alias. A participant never receives its own streams
// nor streams of someone outside the session, and a non-member receives nothing.
func Receives(s *Session, participants map[string]*Participant, sub string) []StreamRef {
	m, ok := s.Members[sub]
	if !ok || m.Subscriptions == nil {
		return nil
	}
	subs := m.Subscriptions
	var out []StreamRef
	add := func(pid string, aliases []string) {
		if pid == sub {
			return
		}
		if _, member := s.Members[pid]; !member {
			return
		}
		p, ok := participants[pid]
		if !ok {
			return
		}
		for _, st := range p.Streams {
			if len(aliases) == 0 || slices.Contains(aliases, st.Alias) {
				out = append(out, StreamRef{ParticipantID: pid, Alias: st.Alias})
			}
		}
	}
	switch {
	case len(subs.Participants) > 0:
		for _, ps := range subs.Participants {
			add(ps.ParticipantID, ps.StreamAliases)
		}
	case subs.SessionID == s.ID:
		for _, pid := range s.MemberIDs() {
			add(pid, nil)
		}
	}
	slices.SortFunc(out, func(a, b StreamRef) int {
		if c := strings.Compare(a.ParticipantID, b.ParticipantID); c != 0 {
			return c
		}
		return strings.Compare(a.Alias, b.Alias)
	})
	return slices.Compact(out)
}

// Receivers is the inverse view: for every stream of publisher pub, which
// members receive it. Calling uses it to build a track's subscriber list.
func Receivers(s *Session, participants map[string]*Participant, pub string) map[string][]string {
	out := make(map[string][]string)
	for _, sub := range s.MemberIDs() {
		for _, ref := range Receives(s, participants, sub) {
			if ref.ParticipantID == pub {
				out[ref.Alias] = append(out[ref.Alias], sub)
			}
		}
	}
	return out
}
