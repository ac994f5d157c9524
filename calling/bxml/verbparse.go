package bxml

import (
	"slices"
	"strings"

	"github.com/switchboard-rtc/switchboard/auth"
)

// The parsers of each verb, in the order of verbs.go. Each reads every
// attribute it accepts (so checkAttrs can refuse the rest), fills in the
// defaults Bandwidth documents, and checks the ranges.

func parsePlayAudio(e *element) Verb {
	v := &PlayAudio{Username: e.str("username"), Password: e.str("password")}
	e.noChildren()
	v.URL = e.textURL()
	return v
}

func parseSpeakSentence(e *element) Verb {
	e.noChildren()
	v := &SpeakSentence{Voice: e.str("voice"), Locale: e.str("locale"), Gender: strings.ToLower(e.str("gender"))}
	switch v.Gender {
	case "", "male", "female", "neutral":
	default:
		e.fail(CodeInvalidAttr, "gender", "must be male, female or neutral")
	}
	v.Text = e.text(true)
	return v
}

func parsePause(e *element) Verb {
	e.noText()
	e.noChildren()
	return &Pause{Duration: e.seconds("duration", 1, 0.1, 86400)}
}

func parseGather(e *element) Verb {
	v := &Gather{
		Callback:          e.callback("gather", false),
		TerminatingDigits: e.digits("terminatingDigits"),
		MaxDigits:         e.integer("maxDigits", 50, 1, 50),
		InterDigitTimeout: e.seconds("interDigitTimeout", 5, 1, 60),
		FirstDigitTimeout: e.seconds("firstDigitTimeout", 5, 0, 3600),
		RepeatCount:       e.integer("repeatCount", 1, 1, 25),
		Tag:               e.str("tag"),
	}
	e.noText()
	e.checkAttrs() // before the prompts: faults are reported in document order
	if e.err != nil {
		return nil
	}
	for _, c := range e.n.Nodes {
		pv, err := e.p.verb(c, "Gather")
		if err != nil {
			e.err = err
			return nil
		}
		v.Prompts = append(v.Prompts, pv)
	}
	return v
}

func parseTransfer(e *element) Verb {
	v := &Transfer{
		TransferCallerID: e.str("transferCallerId"),
		CallTimeout:      e.seconds("callTimeout", 30, 1, 300),
		Complete:         e.callback("transferComplete", false),
		Tag:              e.str("tag"),
	}
	e.ignore("transferCallerDisplayName", "diversionTreatment", "diversionReason")
	e.noText()
	if v.TransferCallerID != "" && !auth.ValidIdentity(v.TransferCallerID) {
		e.fail(CodeInvalidAttr, "transferCallerId", "must be an identity (3-64 of letters, digits and - _ + = / .)")
	}
	for _, c := range e.n.Nodes {
		if e.err != nil {
			return nil
		}
		name := c.XMLName.Local
		if c.XMLName.Space != "" {
			name = "" // namespaced: not one of ours
		}
		switch name {
		case "Identity":
			if len(c.Attrs) > 0 {
				e.fail(CodeInvalidAttr, clip(qname(c.Attrs[0].Name)), "<Identity> takes no attributes")
				continue
			}
			if len(c.Nodes) > 0 {
				e.fail(CodeInvalidNested, "", "<Identity> takes only text")
				continue
			}
			id := strings.TrimSpace(c.Text)
			if !auth.ValidIdentity(id) {
				e.fail(CodeInvalidText, "", "<Identity> %q is not an identity (3-64 of letters, digits and - _ + = / .)", clip(id))
				continue
			}
			if slices.Contains(v.Targets, id) {
				e.fail(CodeInvalidText, "", "<Identity> %s is given twice", id)
				continue
			}
			v.Targets = append(v.Targets, id)
		case "PhoneNumber", "SipUri":
			e.fail(CodeUnsupported, "", "<%s>: a WebRTC server has no telephone network; transfer to an <Identity>", c.XMLName.Local)
		default:
			e.fail(CodeInvalidNested, "", "<%s> may not be nested in <Transfer> (use <Identity>)", clip(qname(c.XMLName)))
		}
	}
	switch {
	case e.err != nil:
	case len(v.Targets) == 0:
		e.fail(CodeInvalidNested, "", "needs at least one <Identity>")
	case len(v.Targets) > 8:
		e.fail(CodeTooLarge, "", "at most 8 <Identity> targets")
	}
	return v
}

func parseConference(e *element) Verb {
	e.noChildren()
	v := &Conference{
		Mute:        e.boolean("mute", false),
		Hold:        e.boolean("hold", false),
		CallbackURL: e.url("conferenceEventUrl"),
		Tag:         e.str("tag"),
	}
	e.ignore("conferenceEventMethod", "conferenceEventFallbackUrl", "conferenceEventFallbackMethod",
		"username", "password", "fallbackUsername", "fallbackPassword", "callbackTimeout", "callIdsToCoach")
	v.Room = e.text(true)
	if e.err == nil && (v.Room == "*" || !auth.ValidRoomName(v.Room)) {
		e.fail(CodeInvalidText, "", "%q is not a room name", clip(v.Room))
	}
	return v
}

// fileFormat reads fileFormat: recordings are WebM (Opus, and VP8 for
// video), so "webm" is the one value; Bandwidth's "wav" and "mp3" are
// refused rather than silently written as something else.
func (e *element) fileFormat() string {
	v, ok := e.attr("fileFormat")
	if !ok {
		return "webm"
	}
	if strings.ToLower(strings.TrimSpace(v)) != "webm" {
		e.fail(CodeUnsupported, "fileFormat", "recordings are WebM; %q is not written", clip(v))
	}
	return "webm"
}

// noTranscription refuses transcribe="true": no transcription engine.
func (e *element) noTranscription() {
	if e.boolean("transcribe", false) {
		e.fail(CodeUnsupported, "transcribe", "no transcription engine")
	}
	e.ignore("transcriptionAvailableUrl", "transcriptionAvailableMethod")
}

func parseStartRecording(e *element) Verb {
	e.noText()
	e.noChildren()
	v := &StartRecording{
		RecordingAvailable: e.callback("recordingAvailable", false),
		MultiChannel:       e.boolean("multiChannel", false),
		FileFormat:         e.fileFormat(),
		Tag:                e.str("tag"),
	}
	e.noTranscription()
	return v
}

func parseRecord(e *element) Verb {
	e.noText()
	e.noChildren()
	v := &Record{
		Complete:          e.callback("recordComplete", false),
		MaxDuration:       e.seconds("maxDuration", 60, 1, 10800),
		SilenceTimeout:    e.seconds("silenceTimeout", 0, 0, 3600),
		TerminatingDigits: e.digits("terminatingDigits"),
		FileFormat:        e.fileFormat(),
		Tag:               e.str("tag"),
	}
	e.ignore("recordingAvailableUrl", "recordingAvailableMethod", "detectLanguage")
	e.noTranscription()
	return v
}

func parseSendDtmf(e *element) Verb {
	e.noChildren()
	v := &SendDtmf{
		ToneDuration: e.millis("toneDuration", 300, 50, 5000),
		ToneInterval: e.millis("toneInterval", 50, 50, 5000),
	}
	d := e.text(true)
	if len(d) > MaxDigitsLen {
		e.fail(CodeTooLarge, "", "at most %d digits", MaxDigitsLen)
	}
	for _, r := range d {
		if !strings.ContainsRune(dtmfDigits+"wW", r) {
			e.fail(CodeInvalidText, "", "digits must be 0-9, *, #, A-D, w or W")
			break
		}
	}
	v.Digits = d
	return v
}

func parseRing(e *element) Verb {
	e.noText()
	e.noChildren()
	return &Ring{Duration: e.seconds("duration", 5, 0.1, 86400), AnswerCall: e.boolean("answerCall", true)}
}

func parseRedirect(e *element) Verb {
	e.noText()
	e.noChildren()
	return &Redirect{Callback: e.callback("redirect", true), Tag: e.str("tag")}
}
