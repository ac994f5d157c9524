package bxml

import "time"

// Response is a parsed BXML document: its verbs in document order.
type Response struct {
	Verbs []Verb
}

// Verb is one BXML instruction. The concrete types are the pointers
// *PlayAudio, *SpeakSentence, *Pause, *Gather, *Transfer, *Conference,
// *StartRecording, *StopRecording, *Record, *SendDtmf, *Ring, *Redirect
// and *Hangup; a type switch tells them apart.
type Verb interface {
	// Name is the verb's element name, e.g. "PlayAudio".
	Name() string
}

// Callback is where and how the server asks the application what to do
// next (Gather's gatherUrl, Redirect's redirectUrl, …) or tells it what
// happened: an absolute http or https URL, the method (POST or GET), an
// optional fallback tried when the first answers with an error, and
// optional HTTP basic credentials for each.
type Callback struct {
	URL                                string
	Method                             string // "POST" (default) or "GET"
	FallbackURL                        string // "": no fallback
	FallbackMethod                     string // "POST" (default) or "GET"
	Username, Password                 string
	FallbackUsername, FallbackPassword string
}

// PlayAudio plays an audio file (Ogg Opus or WAV) fetched from URL.
type PlayAudio struct {
	URL                string
	Username, Password string // basic credentials for the fetch, if any
}

// SpeakSentence speaks Text through the host's text-to-speech, if it
// provides one (none is built in).
type SpeakSentence struct {
	Text                  string
	Voice, Locale, Gender string // "" when not given: the engine's default
}

// Pause waits, silent, for Duration (default 1 s, at most 86,400 s).
type Pause struct {
	Duration time.Duration
}

// Gather collects DTMF digits while its prompts play, then asks the
// application (Callback) what to do with them. Collection ends at
// MaxDigits, at one of TerminatingDigits (not included in the digits), or
// after a timeout; the prompts are repeated RepeatCount times while no
// digit has come.
type Gather struct {
	Callback          Callback // gatherUrl… "" URL: the digits go nowhere and the next verb runs
	TerminatingDigits string   // digits that end collection ("" none)
	MaxDigits         int      // 1–50, default 50
	FirstDigitTimeout time.Duration
	InterDigitTimeout time.Duration
	RepeatCount       int // 1–25, default 1
	Tag               string
	Prompts           []Verb // *PlayAudio and *SpeakSentence only
}

// Transfer rings one or more identities and bridges the call to the first
// that answers. It is Bandwidth's Transfer with <Identity> targets: there is
// no telephone network behind a WebRTC server, so <PhoneNumber> and
// <SipUri> are refused.
type Transfer struct {
	Targets          []string      // identities, rung at once
	TransferCallerID string        // shown to the callees ("" the caller's identity)
	CallTimeout      time.Duration // ring this long (1–300 s, default 30 s)
	Complete         Callback      // transferCompleteUrl…: told how it ended, its BXML runs next
	Tag              string
}

// Conference moves the call into the named room.
type Conference struct {
	Room        string
	Mute        bool
	Hold        bool
	CallbackURL string // conference events (unused by the server so far; accepted)
	Tag         string
}

// StartRecording starts recording the call (subject to the host's
// recording policy).
type StartRecording struct {
	RecordingAvailable Callback // recordingAvailableUrl…
	MultiChannel       bool
	FileFormat         string // "webm" (default); "wav" and "mp3" are refused
	Tag                string
}

// StopRecording stops a recording StartRecording started.
type StopRecording struct{}

// Record records the caller alone (a voicemail) until MaxDuration, a
// terminating digit or SilenceTimeout of silence, then tells the
// application (Complete) and runs the BXML it answers.
type Record struct {
	Complete          Callback // recordCompleteUrl…
	MaxDuration       time.Duration
	SilenceTimeout    time.Duration // 0: no silence detection
	TerminatingDigits string
	FileFormat        string
	Tag               string
}

// SendDtmf sends Digits (0–9, *, #, A–D; "w" waits 0.5 s, "W" 1 s) to the
// caller as RFC 4733 events.
type SendDtmf struct {
	Digits       string
	ToneDuration time.Duration // 50–5,000 ms, default 300 ms
	ToneInterval time.Duration // 50–5,000 ms, default 50 ms
}

// Ring plays ringback to the caller for Duration (default 5 s).
type Ring struct {
	Duration   time.Duration
	AnswerCall bool // default true
}

// Redirect fetches new BXML from Callback and runs it instead of the
// verbs that follow.
type Redirect struct {
	Callback Callback
	Tag      string
}

// Hangup ends the call.
type Hangup struct{}

// Name is "PlayAudio".
func (*PlayAudio) Name() string { return "PlayAudio" }

// Name is "SpeakSentence".
func (*SpeakSentence) Name() string { return "SpeakSentence" }

// Name is "Pause".
func (*Pause) Name() string { return "Pause" }

// Name is "Gather".
func (*Gather) Name() string { return "Gather" }

// Name is "Transfer".
func (*Transfer) Name() string { return "Transfer" }

// Name is "Conference".
func (*Conference) Name() string { return "Conference" }

// Name is "StartRecording".
func (*StartRecording) Name() string { return "StartRecording" }

// Name is "StopRecording".
func (*StopRecording) Name() string { return "StopRecording" }

// Name is "Record".
func (*Record) Name() string { return "Record" }

// Name is "SendDtmf".
func (*SendDtmf) Name() string { return "SendDtmf" }

// Name is "Ring".
func (*Ring) Name() string { return "Ring" }

// Name is "Redirect".
func (*Redirect) Name() string { return "Redirect" }

// Name is "Hangup".
func (*Hangup) Name() string { return "Hangup" }
