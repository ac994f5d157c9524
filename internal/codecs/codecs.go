// Package codecs registers the media Switchboard negotiates beyond pion's
// defaults: RFC 4733 telephone events (DTMF) on audio, at 48 kHz (with Opus)
// and 8 kHz (with G.711), on the payload types Chrome uses.
package codecs

import "github.com/pion/webrtc/v4"

// MimeTypeTelephoneEvent is RFC 4733's media type.
const MimeTypeTelephoneEvent = "audio/telephone-event"

// Register adds pion's default codecs and telephone-event to me.
func Register(me *webrtc.MediaEngine) error {
	if err := me.RegisterDefaultCodecs(); err != nil {
		return err
	}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: MimeTypeTelephoneEvent, ClockRate: 48000, SDPFmtpLine: "0-16"}, PayloadType: 110},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: MimeTypeTelephoneEvent, ClockRate: 8000, SDPFmtpLine: "0-16"}, PayloadType: 126},
	} {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return err
		}
	}
	return nil
}
