package recording

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/switchboard-rtc/switchboard/auth"
)

// Type is what a recording holds, and the account's recording setting.
type Type string

// Types, in increasing order.
const (
	// TypeNone records nothing (an account setting, or a decision).
	TypeNone Type = "NONE"
	// TypeAudio records every participant's audio.
	TypeAudio Type = "AUDIO"
	// TypeAudioAndVideo records audio and video.
	TypeAudioAndVideo Type = "AUDIO_AND_VIDEO"
)

// rank orders the types; an unknown type (and "") ranks as TypeNone.
func (t Type) rank() int {
	switch t {
	case TypeAudio:
		return 1
	case TypeAudioAndVideo:
		return 2
	}
	return 0
}

// Valid reports whether t is one of the three types.
func (t Type) Valid() bool { return t == TypeNone || t == TypeAudio || t == TypeAudioAndVideo }

// min returns the lower of t and u.
func (t Type) min(u Type) Type {
	if u.rank() < t.rank() {
		return u.norm()
	}
	return t.norm()
}

// norm maps "" and unknown values to TypeNone.
func (t Type) norm() Type {
	if t.rank() == 0 {
		return TypeNone
	}
	return t
}

// CallOption is the recording option a client asks for when it places a
// call or joins a room: UNDEFINED (or empty), AUDIO or AUDIO_AND_VIDEO. The
// host also uses it for an on-demand request (POST /recordings).
type CallOption string

// Call options; the empty value is CallUndefined.
const (
	CallUndefined     CallOption = "UNDEFINED"
	CallAudio         CallOption = "AUDIO"
	CallAudioAndVideo CallOption = "AUDIO_AND_VIDEO"
)

// Type returns the recording type the option asks for (TypeNone for UNDEFINED).
func (o CallOption) Type() Type {
	switch o {
	case CallAudio:
		return TypeAudio
	case CallAudioAndVideo:
		return TypeAudioAndVideo
	}
	return TypeNone
}

// AccountSetting is the host's (account's) recording setting, the ceiling of
// every decision.
type AccountSetting struct {
	// Type is NONE (never record; the zero value behaves so), AUDIO or AUDIO_AND_VIDEO.
	Type Type
	// Composition: also mix every participant's audio into one file per
	// call or room.
	Composition bool
}

// Party is one participant's input to the policy.
type Party struct {
	// ID names the participant in the Decision (participant id or identity).
	ID string
	// Option is the recording option of the participant's token; empty is unset.
	Option auth.RecordingOption
	// Call is the call option this participant asked for (a caller's call,
	// a callee's answer, a room's join); empty: PolicyInput.Call.
	Call CallOption
	// EndToEndEncrypted: the participant's media is end-to-end encrypted, so
	// the server cannot record it, and the call or room is not recorded.
	EndToEndEncrypted bool
}

// PolicyInput is everything a recording decision depends on.
type PolicyInput struct {
	Account AccountSetting
	// Call is the option the client asked for (or the on-demand request),
	// for every party whose own Call is empty.
	Call CallOption
	// Parties are the participants of the call or room.
	Parties []Party
	// Unset is how a token without a recording option behaves: ON_DEMAND
	// when empty, or DISABLED or ALWAYS.
	Unset auth.RecordingOption
}

// Reason says why a call or room is not recorded.
type Reason string

// Reasons of a Decision that records nothing.
const (
	// ReasonAccountNone: the account's setting is NONE.
	ReasonAccountNone Reason = "account_none"
	// ReasonNotTriggered: no participant's option triggered recording.
	ReasonNotTriggered Reason = "not_triggered"
	// ReasonEndToEndEncrypted: a participant uses end-to-end encryption.
	ReasonEndToEndEncrypted Reason = "end_to_end_encrypted"
	// ReasonNoParties: nobody to record.
	ReasonNoParties Reason = "no_parties"
	// ReasonAutomatic: a recording the policy started when the call or
	// room started runs until it ends; it cannot be stopped on demand.
	ReasonAutomatic Reason = "automatic"
)

// Decision is the outcome of the policy for a call or room.
type Decision struct {
	// Type is what is recorded, for every participant; TypeNone for nothing.
	Type Type
	// Composition: a mixed audio file is made too (only when Type is not NONE).
	Composition bool
	// Triggered are the IDs of the parties whose option triggered Type.
	Triggered []string
	// Reason says why nothing is recorded (empty when Type is not NONE).
	Reason Reason
	// Detail names the party behind Reason, when there is one.
	Detail string
}

// Record reports whether the decision records anything.
func (d Decision) Record() bool { return d.Type != TypeNone }

// Resolver decides what a call or room records. The host may replace the
// default (the package function Resolve) with its own; implementations must
// be safe for concurrent use.
type Resolver interface {
	Resolve(PolicyInput) Decision
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(PolicyInput) Decision

// Resolve calls f.
func (f ResolverFunc) Resolve(in PolicyInput) Decision { return f(in) }

var _ Resolver = ResolverFunc(nil)

// DefaultResolver is Resolve as a Resolver.
var DefaultResolver Resolver = ResolverFunc(Resolve)

// Trigger returns what one participant's token option triggers under the
// account setting and the call option: DISABLED triggers nothing; ALWAYS
// triggers the account setting and ignores the call option; ON_DEMAND (and
// unset, unless unset says otherwise) triggers the call option; nothing goes
// beyond the account setting.
func Trigger(account Type, option auth.RecordingOption, call CallOption, unset auth.RecordingOption) Type {
	if option == "" {
		option = unset
	}
	switch option {
	case auth.RecordingDisabled:
		return TypeNone
	case auth.RecordingAlways:
		return account.norm()
	default: // ON_DEMAND, and unset behaving as ON_DEMAND
		return call.Type().min(account)
	}
}

// Resolve is the recording policy (Infobip's three inputs): each party's
// token option against the account setting and the call option (the
// party's own, else the input's; see Trigger); if any party triggers recording, the whole call or room is
// recorded, every party included, at the highest type triggered. A call or
// room where any party uses end-to-end encryption is not recorded. Resolve
// is pure.
func Resolve(in PolicyInput) Decision {
	if in.Account.Type.norm() == TypeNone {
		return Decision{Type: TypeNone, Reason: ReasonAccountNone}
	}
	if len(in.Parties) == 0 {
		return Decision{Type: TypeNone, Reason: ReasonNoParties}
	}
	for _, p := range in.Parties {
		if p.EndToEndEncrypted {
			return Decision{Type: TypeNone, Reason: ReasonEndToEndEncrypted, Detail: p.ID}
		}
	}
	d := Decision{Type: TypeNone}
	var triggered [3][]string
	for _, p := range in.Parties {
		t := Trigger(in.Account.Type, p.Option, cmp.Or(p.Call, in.Call), in.Unset)
		triggered[t.rank()] = append(triggered[t.rank()], p.ID)
		if t.rank() > d.Type.rank() {
			d.Type = t
		}
	}
	if d.Type == TypeNone {
		d.Reason = ReasonNotTriggered
		return d
	}
	d.Triggered = triggered[d.Type.rank()]
	d.Composition = in.Account.Composition
	return d
}

// PolicyTable renders what one participant triggers for every account
// setting, token option and call option (3 × 4 × 3 rows) as a Markdown table;
// README's "Recording policy" section shows it.
func PolicyTable() string {
	var b strings.Builder
	b.WriteString("| account setting | token option | call option | recorded |\n")
	b.WriteString("|---|---|---|---|\n")
	for _, acct := range []Type{TypeNone, TypeAudio, TypeAudioAndVideo} {
		for _, opt := range []auth.RecordingOption{auth.RecordingDisabled, auth.RecordingAlways, auth.RecordingOnDemand, ""} {
			for _, call := range []CallOption{CallUndefined, CallAudio, CallAudioAndVideo} {
				name := string(opt)
				if opt == "" {
					name = "unset"
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", acct, name, call, Trigger(acct, opt, call, ""))
			}
		}
	}
	return b.String()
}
