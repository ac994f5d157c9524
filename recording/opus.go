package recording

import "encoding/binary"

// Opus facts the writers need (RFC 6716 and RFC 7845).

const (
	// opusRate is the clock of Opus in RTP, in Ogg granule positions and in
	// every timeline of this package's audio.
	opusRate = 48000
	// opusPreSkip is the pre-skip written in OpusHead: the lookahead of
	// libopus at 48 kHz (2.5 ms of MDCT overlap + 4 ms of delay
	// compensation), the delay every WebRTC encoder in practice adds, which
	// is also what WebM's CodecDelay of 6.5 ms says.
	opusPreSkip = 312
	// maxOpusPacket is the largest packet accepted: 120 ms of 1275-byte
	// frames plus framing.
	maxOpusPacket = 6*1275 + 16
)

// opusSamples returns the duration of an Opus packet in 48 kHz samples, or
// 0 when the packet is malformed (empty, or a code 3 packet without its
// frame count, or longer than 120 ms).
func opusSamples(p []byte) int {
	if len(p) == 0 {
		return 0
	}
	toc := p[0]
	var frame int
	switch cfg := toc >> 3; {
	case cfg < 12: // SILK: 10, 20, 40, 60 ms
		frame = []int{480, 960, 1920, 2880}[cfg&3]
	case cfg < 16: // hybrid: 10, 20 ms
		frame = []int{480, 960}[cfg&1]
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = []int{120, 240, 480, 960}[cfg&3]
	}
	var n int
	switch toc & 3 {
	case 0:
		n = 1
	case 1, 2:
		n = 2
	case 3:
		if len(p) < 2 {
			return 0
		}
		n = int(p[1] & 0x3F)
	}
	if d := n * frame; d > 0 && d <= 5760 {
		return d
	}
	return 0
}

// opusHead returns the OpusHead identification header (RFC 7845 §5.1),
// also the CodecPrivate of an Opus track in WebM.
func opusHead(channels int) []byte {
	h := make([]byte, 19)
	copy(h, "OpusHead")
	h[8] = 1 // version
	h[9] = byte(channels)
	binary.LittleEndian.PutUint16(h[10:], opusPreSkip)
	binary.LittleEndian.PutUint32(h[12:], opusRate) // input sample rate, informational
	// output gain 0, channel mapping family 0 (mono or stereo)
	return h
}

// opusTags returns the OpusTags comment header (RFC 7845 §5.2).
func opusTags(vendor string) []byte {
	b := make([]byte, 0, 8+4+len(vendor)+4)
	b = append(b, "OpusTags"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(vendor)))
	b = append(b, vendor...)
	return binary.LittleEndian.AppendUint32(b, 0) // no user comments
}

// concealment returns Opus packets that ask the decoder for loss
// concealment over samples (48 kHz): frames of zero bytes (RFC 6716 §3.2:
// a frame of length 0 is to be concealed), 120 ms at most per packet, in
// 20 ms frames and then 10, 5 and 2.5 ms ones. A remainder below 2.5 ms is
// not covered; the second result says how many samples the packets cover.
func concealment(samples int64, stereo bool) ([][]byte, int64) {
	var s byte
	if stereo {
		s = 1 << 2
	}
	var out [][]byte
	var covered int64
	for samples-covered >= 960 {
		n := min((samples-covered)/960, 6)
		// code 3, CBR, n frames of (2-2)/n = 0 bytes each; config 31 = CELT FB 20 ms
		out = append(out, []byte{31<<3 | s | 3, byte(n)})
		covered += n * 960
	}
	for _, f := range []struct {
		cfg     byte
		samples int64
	}{{30, 480}, {29, 240}, {28, 120}} {
		if samples-covered >= f.samples {
			out = append(out, []byte{f.cfg<<3 | s}) // code 0: one frame of 0 bytes
			covered += f.samples
		}
	}
	return out, covered
}
