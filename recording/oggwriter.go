package recording

import (
	"encoding/binary"
	"fmt"
	"io"
)

// OggWriter writes one Ogg Opus stream (RFC 7845): OpusHead with a pre-skip
// of 312 samples, OpusTags, then pages of many packets whose granule
// positions come from the packets' positions on the timeline, so a gap in
// the input stays a gap in time (filled with packets that ask the decoder to
// conceal the loss, as RFC 7845 §4.1 recommends). Nothing is buffered
// across Flush: after Flush returns, every packet written so far is on a
// complete page in the underlying writer. Not safe for concurrent use.
type OggWriter struct {
	w        io.Writer
	serial   uint32
	seq      uint32
	stereo   bool
	off      int64 // bytes written
	segs     []byte
	body     []byte
	granule  int64 // end of the last packet, in 48 kHz samples (pre-skip included)
	lastPage []byte
	lastOff  int64
	closed   bool
	err      error
}

// OggOptions configure NewOggWriter.
type OggOptions struct {
	// Channels of the OpusHead: 1 or 2. Default 2 (WebRTC's opus/48000/2).
	Channels int
	// Serial is the stream's serial number. Default 1.
	Serial uint32
	// Vendor string of OpusTags. Default "switchboard".
	Vendor string
}

// oggMaxSegments is the most lacing values a page holds.
const oggMaxSegments = 255

// NewOggWriter writes the two header pages to w and returns the writer.
// When w is also an io.WriterAt (an *os.File), Close marks the last page
// written as the end of the stream in place instead of adding an empty page.
func NewOggWriter(w io.Writer, o OggOptions) (*OggWriter, error) {
	if o.Channels == 0 {
		o.Channels = 2
	}
	if o.Channels != 1 && o.Channels != 2 {
		return nil, fmt.Errorf("recording: Ogg Opus with %d channels", o.Channels)
	}
	if o.Serial == 0 {
		o.Serial = 1
	}
	if o.Vendor == "" {
		o.Vendor = "switchboard"
	}
	ow := &OggWriter{w: w, serial: o.Serial, stereo: o.Channels == 2, segs: make([]byte, 0, oggMaxSegments), body: make([]byte, 0, 8<<10)}
	if err := ow.page(opusHead(o.Channels), 0, 0x02); err != nil {
		return nil, err
	}
	if err := ow.page(opusTags(o.Vendor), 0, 0); err != nil {
		return nil, err
	}
	return ow, nil
}

// Position returns the end of the last packet written, in 48 kHz samples
// from the start of the stream (pre-skip not included).
func (o *OggWriter) Position() int64 { return o.granule }

// Size returns the bytes written to the underlying writer.
func (o *OggWriter) Size() int64 { return o.off }

// WritePacket adds an Opus packet that starts at pos (48 kHz samples from
// the start of the stream). A pos past the end of the previous packet
// leaves a gap that is filled with concealment packets; a pos before it
// (a packet that overlaps the previous one) is moved to the end. A
// malformed packet is refused with ErrInvalidPacket.
func (o *OggWriter) WritePacket(pos int64, p []byte) error {
	if o.err != nil {
		return o.err
	}
	if o.closed {
		return ErrClosed
	}
	n := opusSamples(p)
	if n == 0 || len(p) > maxOpusPacket {
		return ErrInvalidPacket
	}
	if gap := pos - o.granule; gap > 0 {
		fill, _ := concealment(gap, o.stereo)
		for _, f := range fill {
			if err := o.add(f, int64(opusSamples(f))); err != nil {
				return err
			}
		}
	}
	return o.add(p, int64(n))
}

// add appends one packet to the current page, finishing the page first
// when the packet's lacing values do not fit.
func (o *OggWriter) add(p []byte, samples int64) error {
	need := len(p)/255 + 1
	if len(o.segs)+need > oggMaxSegments {
		if err := o.Flush(); err != nil {
			return err
		}
	}
	for range len(p) / 255 {
		o.segs = append(o.segs, 255)
	}
	o.segs = append(o.segs, byte(len(p)%255))
	o.body = append(o.body, p...)
	o.granule += samples
	return nil
}

// Flush writes the packets added since the last page as a complete page.
// It does not sync the file: the caller does.
func (o *OggWriter) Flush() error {
	if o.err != nil {
		return o.err
	}
	if len(o.segs) == 0 {
		return nil
	}
	return o.flush(0)
}

func (o *OggWriter) flush(flags byte) error {
	err := o.writePage(o.segs, o.body, o.granule+opusPreSkip, flags)
	o.segs, o.body = o.segs[:0], o.body[:0]
	return err
}

// page writes a page holding exactly one packet.
func (o *OggWriter) page(p []byte, granule int64, flags byte) error {
	var segs []byte
	for range len(p) / 255 {
		segs = append(segs, 255)
	}
	return o.writePage(append(segs, byte(len(p)%255)), p, granule, flags)
}

func (o *OggWriter) writePage(segs, body []byte, granule int64, flags byte) error {
	page := make([]byte, 27+len(segs)+len(body))
	copy(page, "OggS")
	page[5] = flags
	binary.LittleEndian.PutUint64(page[6:], uint64(granule))
	binary.LittleEndian.PutUint32(page[14:], o.serial)
	binary.LittleEndian.PutUint32(page[18:], o.seq)
	page[26] = byte(len(segs))
	copy(page[27:], segs)
	copy(page[27+len(segs):], body)
	binary.LittleEndian.PutUint32(page[22:], oggCRC(page))
	o.seq++
	n, err := o.w.Write(page)
	o.lastPage, o.lastOff = page, o.off
	o.off += int64(n)
	if err != nil {
		o.err = err
	}
	return err
}

// Close writes what is pending on a last page marked end of stream (or
// marks the last page written so, in place, when nothing is pending). It
// does not close the underlying writer.
func (o *OggWriter) Close() error {
	if o.closed {
		return o.err
	}
	o.closed = true
	if o.err != nil {
		return o.err
	}
	if len(o.segs) > 0 {
		return o.flush(0x04)
	}
	if wa, ok := o.w.(io.WriterAt); ok && o.seq > 2 {
		return markEOS(wa, o.lastPage, o.lastOff)
	}
	// Only headers so far, or no WriterAt: an empty last page.
	return o.writePage(nil, nil, o.granule+opusPreSkip, 0x04)
}

// markEOS sets the end-of-stream flag of page (at off in w) and its CRC.
func markEOS(w io.WriterAt, page []byte, off int64) error {
	page[5] |= 0x04
	binary.LittleEndian.PutUint32(page[22:], 0)
	binary.LittleEndian.PutUint32(page[22:], oggCRC(page))
	_, err := w.WriteAt(page[:27], off)
	return err
}

var oggCRCTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04C11DB7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return
}()

// oggCRC is the page checksum (CRC-32, polynomial 0x04C11DB7, not
// reflected, initial value 0) over the page with its CRC field zeroed.
func oggCRC(page []byte) uint32 {
	var crc uint32
	for i, b := range page {
		if i >= 22 && i < 26 {
			b = 0
		}
		crc = crc<<8 ^ oggCRCTable[byte(crc>>24)^b]
	}
	return crc
}
