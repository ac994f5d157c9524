package sfu

import (
	"strings"

	"github.com/pion/webrtc/v4"
)

// maxEventTypes bounds the telephone-event payload types kept per side
// (browsers negotiate one or two: 8 kHz and 48 kHz).
const maxEventTypes = 4

// eventTypes are the RFC 4733 telephone-event payload types negotiated on
// one side, with their clock rates: a fixed array, so the per-packet lookup
// neither allocates nor locks.
type eventTypes struct {
	n     int
	pt    [maxEventTypes]uint8
	rates [maxEventTypes]uint32
}

// rate is the clock rate of telephone-event payload type pt (0: pt is not
// a telephone event).
func (e *eventTypes) rate(pt uint8) uint32 {
	for i := 0; i < e.n; i++ {
		if e.pt[i] == pt {
			return e.rates[i]
		}
	}
	return 0
}

// payloadType is the telephone-event payload type at clock rate (0: none).
func (e *eventTypes) payloadType(rate uint32) uint8 {
	for i := 0; i < e.n; i++ {
		if e.rates[i] == rate {
			return e.pt[i]
		}
	}
	return 0
}

// telephoneEvents collects the telephone-event payload types among codecs
// (the first of each clock rate, at most maxEventTypes).
func telephoneEvents(codecs []webrtc.RTPCodecParameters) eventTypes {
	var e eventTypes
	for _, c := range codecs {
		if !isTelephoneEvent(c.MimeType) || e.n == maxEventTypes || e.payloadType(c.ClockRate) != 0 || c.ClockRate == 0 {
			continue
		}
		e.pt[e.n], e.rates[e.n] = uint8(c.PayloadType), c.ClockRate
		e.n++
	}
	return e
}

// isTelephoneEvent reports whether mime is RFC 4733 telephone-event.
func isTelephoneEvent(mime string) bool {
	return strings.EqualFold(mime, "audio/telephone-event")
}
