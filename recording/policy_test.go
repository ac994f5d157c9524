package recording

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-rtc/switchboard/auth"
)

const (
	none = TypeNone
	au   = TypeAudio
	av   = TypeAudioAndVideo
)

// The full table for one participant: 3 account settings × 4 token options
// × 3 call options, written out by hand.
func TestTriggerTable(t *testing.T) {
	opts := []auth.RecordingOption{auth.RecordingDisabled, auth.RecordingAlways, auth.RecordingOnDemand, ""}
	calls := []CallOption{CallUndefined, CallAudio, CallAudioAndVideo}
	want := map[Type][4][3]Type{
		//           DISABLED          ALWAYS        ON_DEMAND         unset
		TypeNone:          {{none, none, none}, {none, none, none}, {none, none, none}, {none, none, none}},
		TypeAudio:         {{none, none, none}, {au, au, au}, {none, au, au}, {none, au, au}},
		TypeAudioAndVideo: {{none, none, none}, {av, av, av}, {none, au, av}, {none, au, av}},
	}
	rows := 0
	for acct, byOpt := range want {
		for i, opt := range opts {
			for j, call := range calls {
				rows++
				if got := Trigger(acct, opt, call, ""); got != byOpt[i][j] {
					t.Errorf("account %s, token %q, call %s: %s, want %s", acct, opt, call, got, byOpt[i][j])
				}
				// The same for a call or room of that one party.
				d := Resolve(PolicyInput{Account: AccountSetting{Type: acct}, Call: call, Parties: []Party{{ID: "p", Option: opt}}})
				if d.Type != byOpt[i][j] {
					t.Errorf("Resolve, account %s, token %q, call %s: %s, want %s", acct, opt, call, d.Type, byOpt[i][j])
				}
				if d.Record() != (d.Reason == "") || d.Record() && !slices.Equal(d.Triggered, []string{"p"}) {
					t.Errorf("account %s, token %q, call %s: decision %+v", acct, opt, call, d)
				}
			}
		}
	}
	if rows != 36 {
		t.Fatalf("%d rows", rows)
	}
	// An empty call option is UNDEFINED; an unknown account type is NONE.
	if Trigger(av, auth.RecordingOnDemand, "", "") != none || Trigger("bogus", auth.RecordingAlways, CallAudio, "") != none {
		t.Fatal("empty call option or unknown account type")
	}
}

// Parties mixed in one call or room: the highest type triggered wins for
// everyone, never beyond the account setting.
func TestResolveMixedParties(t *testing.T) {
	p := func(id string, o auth.RecordingOption) Party { return Party{ID: id, Option: o} }
	for _, tc := range []struct {
		name      string
		in        PolicyInput
		want      Type
		triggered []string
		reason    Reason
	}{
		{"one ALWAYS records everyone", PolicyInput{Account: AccountSetting{Type: av}, Call: CallUndefined,
			Parties: []Party{p("a", auth.RecordingDisabled), p("b", auth.RecordingAlways)}}, av, []string{"b"}, ""},
		{"ALWAYS beats a lower call option", PolicyInput{Account: AccountSetting{Type: av}, Call: CallAudio,
			Parties: []Party{p("a", auth.RecordingOnDemand), p("b", auth.RecordingAlways)}}, av, []string{"b"}, ""},
		{"ON_DEMAND beats a lower ALWAYS", PolicyInput{Account: AccountSetting{Type: av}, Call: CallAudioAndVideo,
			Parties: []Party{p("a", auth.RecordingOnDemand), p("b", auth.RecordingAlways), p("c", "")}}, av, []string{"a", "b", "c"}, ""},
		{"account AUDIO caps the call option", PolicyInput{Account: AccountSetting{Type: au}, Call: CallAudioAndVideo,
			Parties: []Party{p("a", auth.RecordingOnDemand), p("b", auth.RecordingAlways)}}, au, []string{"a", "b"}, ""},
		{"all DISABLED", PolicyInput{Account: AccountSetting{Type: av}, Call: CallAudioAndVideo,
			Parties: []Party{p("a", auth.RecordingDisabled), p("b", auth.RecordingDisabled)}}, none, nil, ReasonNotTriggered},
		{"ON_DEMAND without a call option", PolicyInput{Account: AccountSetting{Type: av},
			Parties: []Party{p("a", auth.RecordingOnDemand), p("b", "")}}, none, nil, ReasonNotTriggered},
		{"account NONE", PolicyInput{Account: AccountSetting{Type: none, Composition: true}, Call: CallAudio,
			Parties: []Party{p("a", auth.RecordingAlways)}}, none, nil, ReasonAccountNone},
		{"zero account setting is NONE", PolicyInput{Call: CallAudio,
			Parties: []Party{p("a", auth.RecordingAlways)}}, none, nil, ReasonAccountNone},
		{"nobody", PolicyInput{Account: AccountSetting{Type: av}, Call: CallAudio}, none, nil, ReasonNoParties},
		{"unset configured as DISABLED", PolicyInput{Account: AccountSetting{Type: av}, Call: CallAudio, Unset: auth.RecordingDisabled,
			Parties: []Party{p("a", ""), p("b", auth.RecordingDisabled)}}, none, nil, ReasonNotTriggered},
		{"unset configured as ALWAYS", PolicyInput{Account: AccountSetting{Type: au}, Unset: auth.RecordingAlways,
			Parties: []Party{p("a", ""), p("b", auth.RecordingOnDemand)}}, au, []string{"a"}, ""},
		{"each party's own call option", PolicyInput{Account: AccountSetting{Type: av}, Call: CallAudioAndVideo,
			Parties: []Party{{ID: "a", Option: auth.RecordingOnDemand, Call: CallAudio}, {ID: "b", Option: auth.RecordingDisabled, Call: CallAudioAndVideo}}}, au, []string{"a"}, ""},
		{"a party without its own takes the input's", PolicyInput{Account: AccountSetting{Type: av}, Call: CallAudioAndVideo,
			Parties: []Party{{ID: "a", Option: auth.RecordingOnDemand, Call: CallAudio}, {ID: "b", Option: auth.RecordingOnDemand}}}, av, []string{"b"}, ""},
		{"end-to-end encryption", PolicyInput{Account: AccountSetting{Type: av}, Call: CallAudio,
			Parties: []Party{p("a", auth.RecordingAlways), {ID: "b", Option: auth.RecordingAlways, EndToEndEncrypted: true}}}, none, nil, ReasonEndToEndEncrypted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Resolve(tc.in)
			if d.Type != tc.want || !slices.Equal(d.Triggered, tc.triggered) || d.Reason != tc.reason {
				t.Fatalf("%+v, want %s triggered by %v, reason %q", d, tc.want, tc.triggered, tc.reason)
			}
		})
	}
	d := Resolve(PolicyInput{Account: AccountSetting{Type: av}, Parties: []Party{{ID: "e", EndToEndEncrypted: true}}})
	if d.Detail != "e" {
		t.Fatalf("the decision names the encrypted party: %+v", d)
	}
	if d := Resolve(PolicyInput{Account: AccountSetting{Type: au, Composition: true}, Parties: []Party{p("a", auth.RecordingAlways)}}); !d.Composition {
		t.Fatal("composition follows the account setting")
	}
	if d := Resolve(PolicyInput{Account: AccountSetting{Type: au, Composition: true}, Parties: []Party{p("a", auth.RecordingDisabled)}}); d.Composition {
		t.Fatal("no composition when nothing is recorded")
	}
}

// Every pair of parties is recorded at the higher of what each triggers alone.
func TestResolvePairsTakeTheHighest(t *testing.T) {
	opts := []auth.RecordingOption{auth.RecordingDisabled, auth.RecordingAlways, auth.RecordingOnDemand, ""}
	for _, acct := range []Type{none, au, av} {
		for _, call := range []CallOption{CallUndefined, CallAudio, CallAudioAndVideo} {
			for _, a := range opts {
				for _, b := range opts {
					ta, tb := Trigger(acct, a, call, ""), Trigger(acct, b, call, "")
					want := ta
					if tb.rank() > ta.rank() {
						want = tb
					}
					in := PolicyInput{Account: AccountSetting{Type: acct}, Call: call, Parties: []Party{{ID: "a", Option: a}, {ID: "b", Option: b}}}
					if got := Resolve(in).Type; got != want {
						t.Errorf("account %s call %s tokens %q %q: %s, want %s", acct, call, a, b, got, want)
					}
				}
			}
		}
	}
}

// README's "Recording policy" section shows the table PolicyTable renders.
func TestREADMEPolicyTable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Recording policy\n")
	if !ok {
		t.Fatal(`README.md has no "## Recording policy" section`)
	}
	start := strings.Index(section, "| account setting |")
	if start < 0 {
		t.Fatal("README's Recording policy section has no table")
	}
	table := section[start:]
	if end := strings.Index(table, "\n\n"); end >= 0 {
		table = table[:end+1]
	}
	if want := PolicyTable(); table != want {
		t.Fatalf("README's policy table differs from PolicyTable(); paste this:\n%s", want)
	}
	if n := strings.Count(PolicyTable(), "\n"); n != 2+36 {
		t.Fatalf("table has %d lines", n)
	}
}

func TestResolverFunc(t *testing.T) {
	var r Resolver = ResolverFunc(func(PolicyInput) Decision { return Decision{Type: au} })
	if r.Resolve(PolicyInput{}).Type != au || DefaultResolver.Resolve(PolicyInput{}).Type != none {
		t.Fatal("resolvers")
	}
}
