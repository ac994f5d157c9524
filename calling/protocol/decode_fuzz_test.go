package protocol

import (
	"errors"
	"testing"
)

// FuzzDecodeMessage: the decoder never panics, and anything it accepts has
// a known type and a short id.
func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"join","id":"1","room":"demo","publish":[{"streamAlias":"microphone","kind":"audio"}]}`,
		`{"type":"answer","sdp":"v=0\r\n"}`, `{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0"}}`,
		`{"type":"mute","streamAlias":"camera","muted":true}`, `{"type":"ping"}`, `{`, `{"type":1}`, `{"type":"x"}`, `{} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeClientMessage(b)
		if m == nil {
			t.Fatal("nil message")
		}
		if err == nil {
			if len(m.ID) > 64 {
				t.Fatal("accepted a long id")
			}
			switch m.Type {
			case TypeJoin, TypePublish, TypeUnpublish, TypeMute, TypeAnswer, TypeCandidate, TypeLeave, TypePing, TypeRefresh,
				TypeCall, TypeAccept, TypeReject, TypeHangup, TypeHold, TypeDTMF:
			default:
				t.Fatalf("accepted type %q", m.Type)
			}
		} else if pe := (*Error)(nil); !errors.As(err, &pe) || pe.Code != 400 {
			t.Fatalf("decoder error %v", err)
		}
	})
}
