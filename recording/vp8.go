package recording

import "github.com/pion/rtp/codecs"

// vp8Assembler joins the RTP packets of a VP8 stream (RFC 7741) into
// frames. A frame with a missing packet is dropped, and so is everything
// after it until the next keyframe (a decoder cannot use a frame whose
// reference is gone); the first frame written is a keyframe.
type vp8Assembler struct {
	depack  codecs.VP8Packet
	frame   []byte
	ts      uint32
	key     bool
	open    bool // a frame has started and is not finished
	broken  bool // the open frame lost a packet
	needKey bool
}

func newVP8Assembler() *vp8Assembler { return &vp8Assembler{needKey: true} }

// vp8Frame is a whole frame.
type vp8Frame struct {
	data []byte // valid until the next push
	key  bool
	ts   uint32
}

// push adds one packet (lost packets were missing before it) and returns a
// completed frame, if any, and whether a keyframe should be asked for (the
// assembler is waiting for one).
func (a *vp8Assembler) push(p *packet, lost int) (f vp8Frame, ok, wantKey bool) {
	if lost > 0 {
		a.broken = true
		a.needKey = true
	}
	payload, err := a.depack.Unmarshal(p.data)
	if err != nil || len(payload) == 0 {
		a.broken = true
		return f, false, a.needKey
	}
	if a.open && p.ts != a.ts {
		// A new frame began before the last one's marker: that one is incomplete.
		a.open, a.needKey = false, true
	}
	if a.depack.S == 1 && a.depack.PID == 0 {
		a.frame = append(a.frame[:0], payload...)
		a.ts, a.open, a.broken = p.ts, true, false
		a.key = payload[0]&0x01 == 0 // the P bit of the VP8 frame tag: 0 is a keyframe
	} else if a.open {
		a.frame = append(a.frame, payload...)
	} else {
		return f, false, a.needKey // the middle of a frame whose start was lost
	}
	if !p.marker {
		return f, false, false
	}
	a.open = false
	if a.broken {
		a.needKey = true
		return f, false, true
	}
	if a.key {
		a.needKey = false
	}
	if a.needKey {
		return f, false, true
	}
	return vp8Frame{data: a.frame, key: a.key, ts: a.ts}, true, false
}
