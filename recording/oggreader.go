package recording

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
)

// oggPage is one page read back, with the packets that end on it.
type oggPage struct {
	flags   byte
	granule int64
	serial  uint32
	seq     uint32
	packets [][]byte
	off     int64 // where the page starts
	end     int64 // where the next page starts
	raw     []byte
}

// errOggCorrupt: bytes that are not a valid page (bad capture pattern or
// CRC), or a page cut short: the end of what a killed process wrote.
var errOggCorrupt = errors.New("recording: corrupt or truncated Ogg page")

// oggReader reads pages one at a time and joins packets that span pages.
type oggReader struct {
	r       *bufio.Reader
	off     int64
	partial []byte
}

func newOggReader(r io.Reader) *oggReader { return &oggReader{r: bufio.NewReaderSize(r, 64<<10)} }

// next returns the next page; io.EOF at a clean end, errOggCorrupt at a
// page that is cut short or damaged (nothing after it is read).
func (o *oggReader) next() (*oggPage, error) {
	var h [27]byte
	n, err := io.ReadFull(o.r, h[:])
	if n == 0 && err == io.EOF {
		return nil, io.EOF
	}
	if err != nil || string(h[:4]) != "OggS" || h[4] != 0 {
		return nil, errOggCorrupt
	}
	segs := make([]byte, h[26])
	if _, err := io.ReadFull(o.r, segs); err != nil {
		return nil, errOggCorrupt
	}
	size := 0
	for _, s := range segs {
		size += int(s)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(o.r, body); err != nil {
		return nil, errOggCorrupt
	}
	page := make([]byte, 0, 27+len(segs)+size)
	page = append(append(append(page, h[:]...), segs...), body...)
	if oggCRC(page) != binary.LittleEndian.Uint32(h[22:]) {
		return nil, errOggCorrupt
	}
	p := &oggPage{
		flags:   h[5],
		granule: int64(binary.LittleEndian.Uint64(h[6:])),
		serial:  binary.LittleEndian.Uint32(h[14:]),
		seq:     binary.LittleEndian.Uint32(h[18:]),
		off:     o.off,
		raw:     page,
	}
	o.off += int64(len(page))
	p.end = o.off
	if h[5]&0x01 == 0 {
		o.partial = o.partial[:0] // not a continuation: drop a dangling partial packet
	}
	start := 0
	for _, s := range segs {
		o.partial = append(o.partial, body[start:start+int(s)]...)
		start += int(s)
		if s < 255 {
			p.packets = append(p.packets, o.partial)
			o.partial = nil
		}
	}
	return p, nil
}

// oggSummary is what recovery needs from an Ogg Opus file.
type oggSummary struct {
	pages       int
	lastGranule int64 // granule position of the last page that ends a packet
	lastPage    []byte
	lastOff     int64
	validEnd    int64 // where the last valid page ends
	eos         bool
}

// summarizeOgg reads r to its end or its first damaged page.
func summarizeOgg(r io.Reader) (oggSummary, error) {
	var s oggSummary
	or := newOggReader(r)
	for {
		p, err := or.next()
		if err == io.EOF || errors.Is(err, errOggCorrupt) {
			if s.pages < 2 {
				return s, errOggCorrupt
			}
			return s, nil
		}
		if err != nil {
			return s, err
		}
		s.pages++
		if p.granule >= 0 && len(p.packets) > 0 && s.pages > 2 {
			s.lastGranule = p.granule
		}
		s.lastPage, s.lastOff, s.validEnd, s.eos = p.raw, p.off, p.end, p.flags&0x04 != 0
	}
}

// Duration of an Ogg Opus stream whose last granule position is g.
func oggDuration(g int64) int64 {
	return max(0, g-opusPreSkip) * 1000 / opusRate
}
