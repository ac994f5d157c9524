package protocol

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func isBadMessage(err error) bool {
	var pe *Error
	return errors.As(err, &pe) && pe.Code == 400 && pe.Reason == ReasonBadMessage
}

// DTMF digits: 1 to 32 of 0-9 * # A-D.
func TestValidDTMF(t *testing.T) {
	for digits, want := range map[string]bool{
		"0123456789*#ABCD":                   true,
		strings.Repeat("1", MaxDTMFDigits):   true,
		strings.Repeat("1", MaxDTMFDigits+1): false,
		"":                                   false,
		"12a":                                false,
		"1 2":                                false,
		"E":                                  false,
	} {
		if got := ValidDTMF(digits); got != want {
			t.Errorf("ValidDTMF(%q) = %v, want %v", digits, got, want)
		}
	}
}

// customData: at most 16 entries and 1 KiB of keys and values; recording
// takes the policy's values only.
func TestCallOptionsValidate(t *testing.T) {
	entries := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m["k"+strconv.Itoa(i)] = "v"
		}
		return m
	}
	for name, tc := range map[string]struct {
		opts *CallOptions
		ok   bool
	}{
		"nil":                  {nil, true},
		"16 entries":           {&CallOptions{CustomData: entries(MaxCustomDataEntries)}, true},
		"17 entries":           {&CallOptions{CustomData: entries(MaxCustomDataEntries + 1)}, false},
		"1024 bytes":           {&CallOptions{CustomData: map[string]string{"k": strings.Repeat("v", MaxCustomDataBytes-1)}}, true},
		"1025 bytes":           {&CallOptions{CustomData: map[string]string{"k": strings.Repeat("v", MaxCustomDataBytes)}}, false},
		"recording AUDIO":      {&CallOptions{Recording: "AUDIO_AND_VIDEO"}, true},
		"recording UNDEFINED":  {&CallOptions{Recording: "UNDEFINED"}, true},
		"recording lower case": {&CallOptions{Recording: "audio"}, false},
	} {
		err := tc.opts.Validate()
		if tc.ok && err != nil || !tc.ok && !isBadMessage(err) {
			t.Errorf("%s: Validate() = %v, want ok %v", name, err, tc.ok)
		}
	}
}

// The id is at most 64 bytes, and an id a refused message carries is echoed.
func TestDecodeClientMessageID(t *testing.T) {
	id := strings.Repeat("i", MaxIDBytes)
	if m, err := DecodeClientMessage([]byte(`{"type":"ping","id":"` + id + `"}`)); err != nil || m.ID != id {
		t.Fatalf("a %d-byte id: %v %v", MaxIDBytes, m, err)
	}
	m, err := DecodeClientMessage([]byte(`{"type":"ping","id":"` + id + `i"}`))
	if !isBadMessage(err) || m.ID != "" {
		t.Fatalf("a %d-byte id: %+v %v", MaxIDBytes+1, m, err)
	}
	m, err = DecodeClientMessage([]byte(`{"type":"ping","id":"7","sdp":1}`))
	if !isBadMessage(err) || m.ID != "7" {
		t.Fatalf("a wrong field type: %+v %v, want bad_message echoing id 7", m, err)
	}
	m, err = DecodeClientMessage([]byte(`{"id":"8"}`))
	if !isBadMessage(err) || m.ID != "8" || !strings.Contains(err.Error(), "type is required") {
		t.Fatalf("no type: %+v %v", m, err)
	}
	for _, trailing := range []string{`{"type":"ping"} {}`, `{"type":"ping"}}`, `{"type":"ping"}]`, `{"type":"ping"} x`} {
		if _, err := DecodeClientMessage([]byte(trailing)); !isBadMessage(err) {
			t.Errorf("trailing data %q: %v", trailing, err)
		}
	}
	if _, err := DecodeClientMessage([]byte("{\"type\":\"ping\"} \r\n")); err != nil {
		t.Errorf("trailing white space: %v", err)
	}
}
