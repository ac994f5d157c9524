package bxml_test

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/calling/bxml"
)

var base, _ = url.Parse("https://app.example.com/ivr/answer")

// An IVR menu as an application would write it: every verb's values come
// out typed, defaults filled in, relative URLs resolved.
func TestParseIVR(t *testing.T) {
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Ring duration="1.5"/>
  <Gather gatherUrl="/ivr/menu" maxDigits="2" terminatingDigits="#" interDigitTimeout="3" firstDigitTimeout="10" repeatCount="2" tag="menu">
    <PlayAudio username="u" password="p">https://cdn.example.com/menu.opus</PlayAudio>
    <SpeakSentence voice="julie">Press one for sales.</SpeakSentence>
  </Gather>
  <Pause/>
  <SendDtmf toneDuration="100">12w#</SendDtmf>
  <Transfer transferCallerId="ivr-bot" callTimeout="20" transferCompleteUrl="done" transferCompleteFallbackUrl="https://backup.example.com/done" transferCompleteFallbackMethod="get">
    <Identity>bob</Identity>
    <Identity>carol.smith</Identity>
  </Transfer>
  <Conference mute="true">support-room</Conference>
  <StartRecording multiChannel="true" recordingAvailableUrl="https://app.example.com/rec"/>
  <StopRecording/>
  <Record maxDuration="30" silenceTimeout="5" terminatingDigits="#" recordCompleteUrl="/vm"/>
  <Redirect redirectUrl="https://other.example.com/next" redirectMethod="GET"/>
  <Hangup/>
</Response>`
	r, err := bxml.Parse([]byte(doc), base)
	if err != nil {
		t.Fatal(err)
	}
	want := []bxml.Verb{
		&bxml.Ring{Duration: 1500 * time.Millisecond, AnswerCall: true},
		&bxml.Gather{
			Callback:          bxml.Callback{URL: "https://app.example.com/ivr/menu", Method: "POST", FallbackMethod: "POST"},
			TerminatingDigits: "#", MaxDigits: 2, InterDigitTimeout: 3 * time.Second, FirstDigitTimeout: 10 * time.Second, RepeatCount: 2, Tag: "menu",
			Prompts: []bxml.Verb{
				&bxml.PlayAudio{URL: "https://cdn.example.com/menu.opus", Username: "u", Password: "p"},
				&bxml.SpeakSentence{Text: "Press one for sales.", Voice: "julie"},
			},
		},
		&bxml.Pause{Duration: time.Second},
		&bxml.SendDtmf{Digits: "12w#", ToneDuration: 100 * time.Millisecond, ToneInterval: 50 * time.Millisecond},
		&bxml.Transfer{Targets: []string{"bob", "carol.smith"}, TransferCallerID: "ivr-bot", CallTimeout: 20 * time.Second,
			Complete: bxml.Callback{URL: "https://app.example.com/ivr/done", Method: "POST", FallbackURL: "https://backup.example.com/done", FallbackMethod: "GET"}},
		&bxml.Conference{Room: "support-room", Mute: true},
		&bxml.StartRecording{RecordingAvailable: bxml.Callback{URL: "https://app.example.com/rec", Method: "POST", FallbackMethod: "POST"}, MultiChannel: true, FileFormat: "webm"},
		&bxml.StopRecording{},
		&bxml.Record{Complete: bxml.Callback{URL: "https://app.example.com/vm", Method: "POST", FallbackMethod: "POST"},
			MaxDuration: 30 * time.Second, SilenceTimeout: 5 * time.Second, TerminatingDigits: "#", FileFormat: "webm"},
		&bxml.Redirect{Callback: bxml.Callback{URL: "https://other.example.com/next", Method: "GET", FallbackMethod: "POST"}},
		&bxml.Hangup{},
	}
	if len(r.Verbs) != len(want) {
		t.Fatalf("%d verbs, want %d", len(r.Verbs), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(r.Verbs[i], want[i]) {
			t.Errorf("verb %d:\n got %#v\nwant %#v", i+1, r.Verbs[i], want[i])
		}
	}
}

// Defaults, as Bandwidth documents them.
func TestParseDefaults(t *testing.T) {
	r, err := bxml.Parse([]byte(`<Response><Gather/><Pause/><Ring/><SendDtmf>1</SendDtmf><Transfer><Identity>bob</Identity></Transfer><Record/><Response2/></Response>`), nil)
	var e *bxml.Error
	if !errors.As(err, &e) || e.Code != bxml.CodeUnknownVerb || e.Verb != "Response2" || e.Index != 7 {
		t.Fatalf("unknown verb at the end: %v", err)
	}
	r, err = bxml.Parse([]byte(`<Response><Gather/><Pause/><Ring/><SendDtmf>1</SendDtmf><Transfer><Identity>bob</Identity></Transfer><Record/></Response>`), nil)
	if err != nil {
		t.Fatal(err)
	}
	g := r.Verbs[0].(*bxml.Gather)
	if g.MaxDigits != 50 || g.RepeatCount != 1 || g.InterDigitTimeout != 5*time.Second || g.FirstDigitTimeout != 5*time.Second || g.Callback.URL != "" {
		t.Errorf("Gather defaults: %+v", g)
	}
	if p := r.Verbs[1].(*bxml.Pause); p.Duration != time.Second {
		t.Errorf("Pause default %v", p.Duration)
	}
	if rg := r.Verbs[2].(*bxml.Ring); rg.Duration != 5*time.Second || !rg.AnswerCall {
		t.Errorf("Ring defaults %+v", rg)
	}
	if d := r.Verbs[3].(*bxml.SendDtmf); d.ToneDuration != 300*time.Millisecond || d.ToneInterval != 50*time.Millisecond {
		t.Errorf("SendDtmf defaults %+v", d)
	}
	if tr := r.Verbs[4].(*bxml.Transfer); tr.CallTimeout != 30*time.Second {
		t.Errorf("Transfer default %v", tr.CallTimeout)
	}
	if rc := r.Verbs[5].(*bxml.Record); rc.MaxDuration != 60*time.Second || rc.SilenceTimeout != 0 || rc.FileFormat != "webm" {
		t.Errorf("Record defaults %+v", rc)
	}
}

// Every fault names its code, verb and attribute; the whole document is
// refused.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		doc        string
		code, verb string
		attr       string
	}{
		{`<Response><PlayAudio>https://a.example/x.opus</PlayAudio>`, bxml.CodeSyntax, "", ""},
		{`<Bxml><Hangup/></Bxml>`, bxml.CodeSyntax, "", ""},
		{`<Response/><Response/>`, bxml.CodeSyntax, "", ""},
		{`<Response>hello</Response>`, bxml.CodeInvalidText, "", ""},
		{`<Response a="1"/>`, bxml.CodeInvalidAttr, "", "a"},
		{`<Response><Dial/></Response>`, bxml.CodeUnknownVerb, "Dial", ""},
		{`<Response><x:Hangup xmlns:x="urn:x"/></Response>`, bxml.CodeUnknownVerb, "Hangup", ""},
		{`<Response><Hangup reason="x"/></Response>`, bxml.CodeInvalidAttr, "Hangup", "reason"},
		{`<Response><Hangup>bye</Hangup></Response>`, bxml.CodeInvalidText, "Hangup", ""},
		{`<Response><Pause duration="0"/></Response>`, bxml.CodeInvalidAttr, "Pause", "duration"},
		{`<Response><Pause duration="86400.5"/></Response>`, bxml.CodeInvalidAttr, "Pause", "duration"},
		{`<Response><Pause duration="NaN"/></Response>`, bxml.CodeInvalidAttr, "Pause", "duration"},
		{`<Response><Pause duration="1" duration="2"/></Response>`, bxml.CodeInvalidAttr, "Pause", "duration"},
		{`<Response><PlayAudio/></Response>`, bxml.CodeInvalidText, "PlayAudio", ""},
		{`<Response><PlayAudio>ftp://a.example/x.wav</PlayAudio></Response>`, bxml.CodeInvalidText, "PlayAudio", ""},
		{`<Response><PlayAudio>relative.wav</PlayAudio></Response>`, bxml.CodeInvalidText, "PlayAudio", ""}, // no base
		{`<Response><Gather maxDigits="0"/></Response>`, bxml.CodeInvalidAttr, "Gather", "maxDigits"},
		{`<Response><Gather maxDigits="51"/></Response>`, bxml.CodeInvalidAttr, "Gather", "maxDigits"},
		{`<Response><Gather repeatCount="26"/></Response>`, bxml.CodeInvalidAttr, "Gather", "repeatCount"},
		{`<Response><Gather interDigitTimeout="61"/></Response>`, bxml.CodeInvalidAttr, "Gather", "interDigitTimeout"},
		{`<Response><Gather terminatingDigits="x"/></Response>`, bxml.CodeInvalidAttr, "Gather", "terminatingDigits"},
		{`<Response><Gather gatherMethod="PUT" gatherUrl="https://a.example/g"/></Response>`, bxml.CodeInvalidAttr, "Gather", "gatherMethod"},
		{`<Response><Gather gatherFallbackUrl="https://a.example/g"/></Response>`, bxml.CodeInvalidAttr, "Gather", "gatherFallbackUrl"},
		{`<Response><Gather><Hangup/></Gather></Response>`, bxml.CodeInvalidNested, "Hangup", ""},
		{`<Response><Gather><PlayAudio>https://a.example/x.opus</PlayAudio><Gather/></Gather></Response>`, bxml.CodeInvalidNested, "Gather", ""},
		{`<Response><Gather><PlayAudio bogus="1">https://a.example/x.opus</PlayAudio></Gather></Response>`, bxml.CodeInvalidAttr, "PlayAudio", "bogus"},
		{`<Response><Transfer/></Response>`, bxml.CodeInvalidNested, "Transfer", ""},
		{`<Response><Transfer><PhoneNumber>+15551234567</PhoneNumber></Transfer></Response>`, bxml.CodeUnsupported, "Transfer", ""},
		{`<Response><Transfer><SipUri>sip:a@b</SipUri></Transfer></Response>`, bxml.CodeUnsupported, "Transfer", ""},
		{`<Response><Transfer><Identity>b</Identity></Transfer></Response>`, bxml.CodeInvalidText, "Transfer", ""},
		{`<Response><Transfer callTimeout="301"><Identity>bob</Identity></Transfer></Response>`, bxml.CodeInvalidAttr, "Transfer", "callTimeout"},
		{`<Response><Transfer><Identity>a1a</Identity><Identity>a2a</Identity><Identity>a3a</Identity><Identity>a4a</Identity><Identity>a5a</Identity><Identity>a6a</Identity><Identity>a7a</Identity><Identity>a8a</Identity><Identity>a9a</Identity></Transfer></Response>`, bxml.CodeTooLarge, "Transfer", ""},
		{`<Response><Conference/></Response>`, bxml.CodeInvalidText, "Conference", ""},
		{`<Response><Conference>*</Conference></Response>`, bxml.CodeInvalidText, "Conference", ""},
		{`<Response><Conference mute="yes">r</Conference></Response>`, bxml.CodeInvalidAttr, "Conference", "mute"},
		{`<Response><StartRecording fileFormat="wav"/></Response>`, bxml.CodeUnsupported, "StartRecording", "fileFormat"},
		{`<Response><Record transcribe="true"/></Response>`, bxml.CodeUnsupported, "Record", "transcribe"},
		{`<Response><Record maxDuration="10801"/></Response>`, bxml.CodeInvalidAttr, "Record", "maxDuration"},
		{`<Response><SendDtmf/></Response>`, bxml.CodeInvalidText, "SendDtmf", ""},
		{`<Response><SendDtmf>12x</SendDtmf></Response>`, bxml.CodeInvalidText, "SendDtmf", ""},
		{`<Response><SendDtmf toneDuration="49">1</SendDtmf></Response>`, bxml.CodeInvalidAttr, "SendDtmf", "toneDuration"},
		{`<Response><SendDtmf>` + strings.Repeat("1", bxml.MaxDigitsLen+1) + `</SendDtmf></Response>`, bxml.CodeTooLarge, "SendDtmf", ""},
		{`<Response><Redirect/></Response>`, bxml.CodeInvalidAttr, "Redirect", "redirectUrl"},
		{`<Response><Redirect redirectUrl="javascript:alert(1)"/></Response>`, bxml.CodeInvalidAttr, "Redirect", "redirectUrl"},
		{`<Response><SpeakSentence gender="robot">hi</SpeakSentence></Response>`, bxml.CodeInvalidAttr, "SpeakSentence", "gender"},
		{`<Response><Hangup xmlns="urn:x"/></Response>`, bxml.CodeUnknownVerb, "Hangup", ""},
		{`garbage<Response/>`, bxml.CodeSyntax, "", ""},
		{"<Response/>\n<Response/>", bxml.CodeSyntax, "", ""},
		{`<Response/><!--c--><Hangup/>`, bxml.CodeSyntax, "", ""},
		{`<Response/>garbage`, bxml.CodeSyntax, "", ""},
		{`<Response/></x>`, bxml.CodeSyntax, "", ""},
		{`<Response/>&bogus;`, bxml.CodeSyntax, "", ""},
		{`<p:Response xmlns:p="urn:p"/>`, bxml.CodeSyntax, "", ""},
		{`<!DOCTYPE Response SYSTEM "http://127.0.0.1:1/x.dtd"><Response/>`, bxml.CodeSyntax, "", ""},
		{`<Response><Pause xmlns:x="urn:x" x:duration="1"/></Response>`, bxml.CodeInvalidAttr, "Pause", "xmlns:x"},
		{`<Response><Pause duration="0x1p3"/></Response>`, bxml.CodeInvalidAttr, "Pause", "duration"},
		{`<Response><Pause duration="1_0"/></Response>`, bxml.CodeInvalidAttr, "Pause", "duration"},
		{`<Response><Gather maxDigits="1.0"/></Response>`, bxml.CodeInvalidAttr, "Gather", "maxDigits"},
		{`<Response><Gather bogus="1"><Hangup/></Gather></Response>`, bxml.CodeInvalidAttr, "Gather", "bogus"},
		{`<Response><Transfer><p:Identity xmlns:p="urn:p">bob</p:Identity></Transfer></Response>`, bxml.CodeInvalidNested, "Transfer", ""},
		{`<Response><Transfer><Identity foo="1">bob</Identity></Transfer></Response>`, bxml.CodeInvalidAttr, "Transfer", "foo"},
		{`<Response><Transfer><Identity>bob</Identity><Identity>bob</Identity></Transfer></Response>`, bxml.CodeInvalidText, "Transfer", ""},
		{`<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><Response><SpeakSentence>&x;</SpeakSentence></Response>`, bxml.CodeSyntax, "", ""},
	} {
		_, err := bxml.Parse([]byte(tc.doc), nil)
		var e *bxml.Error
		if !errors.As(err, &e) {
			t.Errorf("%s: err %v, want *bxml.Error", tc.doc, err)
			continue
		}
		if e.Code != tc.code || e.Verb != tc.verb || e.Attr != tc.attr {
			t.Errorf("%s:\n got code %s verb %q attr %q (%v)\nwant code %s verb %q attr %q", tc.doc, e.Code, e.Verb, e.Attr, e, tc.code, tc.verb, tc.attr)
		}
	}
}

// Each limit holds at its value and refuses one past it.
func TestParseLimits(t *testing.T) {
	verbs := func(n int) string { return "<Response>" + strings.Repeat("<Hangup/>", n) + "</Response>" }
	if _, err := bxml.Parse([]byte(verbs(bxml.MaxVerbs)), nil); err != nil {
		t.Errorf("%d verbs: %v", bxml.MaxVerbs, err)
	}
	if _, err := bxml.Parse([]byte(verbs(bxml.MaxVerbs+1)), nil); code(err) != bxml.CodeTooLarge {
		t.Errorf("%d verbs: %v", bxml.MaxVerbs+1, err)
	}

	pad := func(total int) []byte {
		head, tail := "<Response><Hangup/><!--", "--></Response>"
		return []byte(head + strings.Repeat("x", total-len(head)-len(tail)) + tail)
	}
	if _, err := bxml.Parse(pad(bxml.MaxDocumentBytes), nil); err != nil {
		t.Errorf("%d bytes: %v", bxml.MaxDocumentBytes, err)
	}
	if _, err := bxml.Parse(pad(bxml.MaxDocumentBytes+1), nil); code(err) != bxml.CodeTooLarge {
		t.Errorf("%d bytes: %v", bxml.MaxDocumentBytes+1, err)
	}

	say := func(n int) []byte {
		return []byte("<Response><SpeakSentence>" + strings.Repeat("a", n) + "</SpeakSentence></Response>")
	}
	if _, err := bxml.Parse(say(bxml.MaxTextBytes), nil); err != nil {
		t.Errorf("%d bytes of text: %v", bxml.MaxTextBytes, err)
	}
	if _, err := bxml.Parse(say(bxml.MaxTextBytes+1), nil); code(err) != bxml.CodeTooLarge {
		t.Errorf("%d bytes of text: %v", bxml.MaxTextBytes+1, err)
	}
	tag := func(n int) []byte {
		return []byte(`<Response><Redirect redirectUrl="https://a.example/" tag="` + strings.Repeat("t", n) + `"/></Response>`)
	}
	if _, err := bxml.Parse(tag(bxml.MaxTextBytes), nil); err != nil {
		t.Errorf("%d-byte attribute: %v", bxml.MaxTextBytes, err)
	}
	if _, err := bxml.Parse(tag(bxml.MaxTextBytes+1), nil); code(err) != bxml.CodeTooLarge {
		t.Errorf("%d-byte attribute: %v", bxml.MaxTextBytes+1, err)
	}
	digits := "<Response><SendDtmf>" + strings.Repeat("1", bxml.MaxDigitsLen) + "</SendDtmf></Response>"
	if _, err := bxml.Parse([]byte(digits), nil); err != nil {
		t.Errorf("%d digits: %v", bxml.MaxDigitsLen, err)
	}
}

func code(err error) string {
	var e *bxml.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return fmt.Sprint(err)
}

// Arbitrary bytes never panic: Parse returns a Response or an *Error.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`<Response><Gather maxDigits="3"><PlayAudio>https://a.example/a.opus</PlayAudio></Gather></Response>`,
		`<Response><Transfer><Identity>bob</Identity></Transfer></Response>`,
		`<Response><SendDtmf>1w2</SendDtmf><Pause duration="0.5"/></Response>`,
		`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Response>&a;</Response>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := bxml.Parse(b, base)
		if err != nil {
			var e *bxml.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		if r == nil || len(r.Verbs) > bxml.MaxVerbs {
			t.Fatalf("response %v", r)
		}
	})
}
