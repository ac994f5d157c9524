package protocol_test

import (
	"errors"
	"fmt"

	"github.com/switchboard-rtc/switchboard/calling/protocol"
)

// A client encodes a join and keeps within the server's message limit (the
// default until the joined message tells the server's own).
func ExampleEncode() {
	join := &protocol.Message{Type: protocol.TypeJoin, ID: "1", Room: "standup",
		Publish: []protocol.Publication{{Alias: "microphone", Kind: "audio"}}}
	b, err := protocol.Encode(join)
	if err != nil {
		panic(err)
	}
	if len(b) > protocol.DefaultMaxMessageBytes {
		panic("too big: the server would close with 1009")
	}
	fmt.Println(string(b))
	// Output:
	// {"type":"join","id":"1","room":"standup","publish":[{"streamAlias":"microphone","kind":"audio"}]}
}

// The server decodes what a client sends strictly: an unknown field, a
// type only the server sends or an id over MaxIDBytes is a bad_message
// error that echoes the request's id when it can.
func ExampleDecodeClientMessage() {
	for _, text := range []string{
		`{"type":"dtmf","id":"6","callId":"c-1","digits":"123#"}`,
		`{"type":"join","id":"7","room":"standup","color":"red"}`,
		`{"type":"offer","id":"8","sdp":"v=0"}`,
	} {
		m, err := protocol.DecodeClientMessage([]byte(text))
		var pe *protocol.Error
		if errors.As(err, &pe) {
			fmt.Printf("id %q refused: %d %s (%s)\n", m.ID, pe.Code, pe.Reason, pe.Message)
			continue
		}
		fmt.Printf("id %q: %s, digits valid: %v\n", m.ID, m.Type, protocol.ValidDTMF(m.Digits))
	}
	// Output:
	// id "6": dtmf, digits valid: true
	// id "7" refused: 400 bad_message (unknown field "color")
	// id "8" refused: 400 bad_message (unknown message type)
}

// Call options are checked against the customData limits before a call.
func ExampleCallOptions_Validate() {
	opts := protocol.CallOptions{Audio: true, Recording: "AUDIO", CustomData: map[string]string{"order": "42"}}
	fmt.Println(opts.Validate())
	opts.Recording = "ALWAYS"
	fmt.Println(opts.Validate())
	// Output:
	// <nil>
	// bad_message: recording must be UNDEFINED, AUDIO or AUDIO_AND_VIDEO
}
