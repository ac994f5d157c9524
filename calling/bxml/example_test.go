package bxml_test

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/switchboard-rtc/switchboard/calling/bxml"
)

// An application's answer, read the way the server reads it: relative URLs
// resolve against the answer URL, defaults are filled in.
func ExampleParse() {
	answerURL, _ := url.Parse("https://app.example.com/ivr/answer")
	r, err := bxml.Parse([]byte(`<Response>
  <Gather gatherUrl="menu" maxDigits="1">
    <PlayAudio>https://cdn.example.com/menu.opus</PlayAudio>
  </Gather>
  <Hangup/>
</Response>`), answerURL)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range r.Verbs {
		switch v := v.(type) {
		case *bxml.Gather:
			fmt.Println(v.Name(), v.Callback.Method, v.Callback.URL, v.MaxDigits, v.FirstDigitTimeout, len(v.Prompts))
		default:
			fmt.Println(v.Name())
		}
	}
	// Output:
	// Gather POST https://app.example.com/ivr/menu 1 5s 1
	// Hangup
}

// A document with a fault is refused whole, with a stable code.
func ExampleParse_error() {
	_, err := bxml.Parse([]byte(`<Response><Pause/><Gather maxDigits="60"/></Response>`), nil)
	var e *bxml.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Verb, e.Index, e.Attr)
		fmt.Println(e)
	}
	// Output:
	// invalid_attribute Gather 2 maxDigits
	// bxml: <Gather> (verb 2) attribute maxDigits: must be a whole number from 1 to 50
}
