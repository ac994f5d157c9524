package recording

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"math"
)

// Reading back a WebM file a killed process left: the segment and its
// clusters have unknown sizes (ebml-go writes them so), so the file is a
// run of elements that ends wherever the process stopped.

// EBML ids this scanner knows.
const (
	idEBML        = 0x1A45DFA3
	idSegment     = 0x18538067
	idInfo        = 0x1549A966
	idDuration    = 0x4489
	idCluster     = 0x1F43B675
	idTimecode    = 0xE7
	idSimpleBlock = 0xA3
)

// webmBlock is one SimpleBlock read back.
type webmBlock struct {
	track int
	ms    int64 // absolute timestamp
	key   bool
	data  []byte
	end   int64 // offset after the block
}

// webmScan is what a scan found.
type webmScan struct {
	blocks      int
	lastEnd     int64 // end of the last whole block (or of the headers)
	endMs       int64 // end of the media: last audio packet's end, or last block
	durationOff int64 // offset of Info's Duration value (8 bytes), or 0
}

var errWebMCorrupt = errors.New("recording: not a WebM file")

// scanWebM reads r (size bytes) element by element and calls fn for each
// block; it stops at the first element cut short.
func scanWebM(r io.Reader, size int64, fn func(webmBlock)) (webmScan, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var s webmScan
	var off, clusterTC int64
	readVint := func(keepMarker bool) (uint64, int, error) {
		b, err := br.ReadByte()
		if err != nil {
			return 0, 0, err
		}
		n := 1
		for mask := byte(0x80); n <= 8 && b&mask == 0; mask >>= 1 {
			n++
		}
		if n > 8 {
			return 0, 0, errWebMCorrupt
		}
		v := uint64(b)
		if !keepMarker {
			v &= uint64(0xFF >> n)
		}
		allOnes := v == uint64(0xFF>>n)
		for range n - 1 {
			c, err := br.ReadByte()
			if err != nil {
				return 0, 0, err
			}
			v = v<<8 | uint64(c)
			allOnes = allOnes && c == 0xFF
		}
		if !keepMarker && allOnes {
			return math.MaxUint64, n, nil // unknown size
		}
		return v, n, nil
	}
	first := true
	for {
		id, n1, err := readVint(true)
		if err != nil {
			break
		}
		sz, n2, err := readVint(false)
		if err != nil {
			break
		}
		start := off + int64(n1+n2)
		if first && id != idEBML {
			return s, errWebMCorrupt
		}
		first = false
		switch id {
		case idSegment, idCluster:
			// Containers: step inside (their size is unknown or not needed).
			off = start
			continue
		}
		if sz == math.MaxUint64 || start+int64(sz) > size {
			break // cut short
		}
		body := make([]byte, sz)
		if _, err := io.ReadFull(br, body); err != nil {
			break
		}
		off = start + int64(sz)
		switch id {
		case idInfo:
			s.durationOff = findDuration(body, start)
		case idTimecode:
			clusterTC = int64(readUint(body))
		case idSimpleBlock:
			b, ok := parseBlock(body, clusterTC)
			if !ok {
				return s, errWebMCorrupt
			}
			b.end = off
			s.blocks++
			end := b.ms
			if b.track == webmAudioTrack {
				end += int64(opusSamples(b.data)) * 1000 / opusRate
			}
			s.endMs = max(s.endMs, end)
			if fn != nil {
				fn(b)
			}
		}
		s.lastEnd = off
	}
	if s.lastEnd == 0 {
		return s, errWebMCorrupt
	}
	return s, nil
}

// findDuration returns the file offset of the Duration value inside an
// Info element whose body starts at start, or 0.
func findDuration(body []byte, start int64) int64 {
	for i := 0; i+11 <= len(body); i++ {
		if body[i] == 0x44 && body[i+1] == 0x89 && body[i+2] == 0x88 {
			return start + int64(i) + 3
		}
	}
	return 0
}

func readUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// parseBlock reads a SimpleBlock body: track number (a vint), a signed
// 16-bit timestamp relative to the cluster, flags, the frame (no lacing).
func parseBlock(b []byte, clusterTC int64) (webmBlock, bool) {
	if len(b) < 4 || b[0]&0x80 == 0 {
		return webmBlock{}, false
	}
	rel := int16(binary.BigEndian.Uint16(b[1:]))
	return webmBlock{track: int(b[0] & 0x7F), ms: clusterTC + int64(rel), key: b[3]&0x80 != 0, data: b[4:]}, true
}

// repairWebM cuts a WebM file a killed process left after its last whole
// block and writes its Duration; it returns the new size and the duration.
func repairWebM(f MediaFile, size int64) (int64, int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, 0, err
	}
	s, err := scanWebM(f, size, nil)
	if err != nil {
		return 0, 0, err
	}
	if err := f.Truncate(s.lastEnd); err != nil {
		return 0, 0, err
	}
	if s.durationOff > 0 && s.durationOff+8 <= s.lastEnd {
		var d [8]byte
		binary.BigEndian.PutUint64(d[:], math.Float64bits(float64(s.endMs)))
		if _, err := f.WriteAt(d[:], s.durationOff); err != nil {
			return 0, 0, err
		}
	}
	return s.lastEnd, s.endMs, nil
}
