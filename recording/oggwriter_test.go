package recording

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Five seconds of packets with five lost in the middle: the file holds
// exactly the packets written, byte for byte, on pages of many packets;
// every page's granule position is the end of its last packet; the five
// missing packets are concealment of exactly their duration; ffmpeg plays
// it for 5 s.
func TestOggWriterPacketsGranulesGap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.ogg")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewOggWriter(f, OggOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pkts := tone(t, 250, 1000)
	var written [][]byte
	for i, p := range pkts {
		if i >= 100 && i < 105 {
			continue // lost
		}
		if err := w.WritePacket(int64(i*960), p); err != nil {
			t.Fatal(err)
		}
		written = append(written, p)
		if i%50 == 49 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(250*960, pkts[0]); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	f.Close()

	pages := readOggFile(t, path)
	if len(pages) < 4 || len(pages) > 10 {
		t.Fatalf("%d pages for 250 packets (pages hold many packets)", len(pages))
	}
	head := pages[0].packets[0]
	if pages[0].flags != 0x02 || string(head[:8]) != "OpusHead" || head[9] != 2 || binary.LittleEndian.Uint16(head[10:]) != 312 {
		t.Fatalf("OpusHead page: flags %x %x", pages[0].flags, head)
	}
	if string(pages[1].packets[0][:8]) != "OpusTags" || pages[1].granule != 0 {
		t.Fatal("OpusTags page")
	}
	var got [][]byte
	var pos int64
	concealed, gapAt := int64(0), int64(-1)
	for i, p := range pages[2:] {
		for _, pkt := range p.packets {
			if isConcealment(pkt) {
				if gapAt < 0 {
					gapAt = pos
				}
				concealed += int64(opusSamples(pkt))
			} else {
				got = append(got, pkt)
			}
			pos += int64(opusSamples(pkt))
		}
		if p.granule != pos+312 {
			t.Fatalf("page %d: granule %d, want %d", i+2, p.granule, pos+312)
		}
		if last := i == len(pages)-3; (p.flags&0x04 != 0) != last {
			t.Fatalf("page %d: flags %x (EOS only on the last page)", i+2, p.flags)
		}
	}
	if len(got) != len(written) {
		t.Fatalf("%d packets read, %d written", len(got), len(written))
	}
	for i := range got {
		if !bytes.Equal(got[i], written[i]) {
			t.Fatalf("packet %d differs", i)
		}
	}
	if gapAt != 100*960 || concealed != 5*960 || pos != 250*960 {
		t.Fatalf("gap at %d of %d samples, end %d", gapAt, concealed, pos)
	}
	checkPlayable(t, path)
	if d := probeDuration(t, path); d < 4.99 || d > 5.01 {
		t.Fatalf("duration %.3f s, want 5", d)
	}
	// The decoded audio keeps the gap in time: the tone after it is where it was sent.
	pcm := decodeWithFFmpeg(t, path)
	if n := len(pcm); n < 250*960-960 || n > 250*960+960 {
		t.Fatalf("%d samples decoded", n)
	}
	if g := goertzel(pcm[110*960:200*960], 1000); g < 0.5 {
		t.Fatalf("1 kHz share after the gap %.2f", g)
	}
}

// Gaps of every size are concealed to within 2.5 ms; a packet that overlaps
// the previous one is moved after it.
func TestOggWriterConcealmentAndOverlap(t *testing.T) {
	for _, gap := range []int64{0, 119, 120, 960, 961, 5760, 5760 + 960 + 480 + 240 + 120 + 7, 48000 * 3} {
		pkts, covered := concealment(gap, true)
		var sum int64
		for _, p := range pkts {
			if !isConcealment(p) || p[0]&0x04 == 0 {
				t.Fatalf("gap %d: packet %x", gap, p)
			}
			sum += int64(opusSamples(p))
		}
		if sum != covered || gap-covered < 0 || gap-covered >= 120 {
			t.Fatalf("gap %d: covered %d (sum %d)", gap, covered, sum)
		}
	}
	var buf bytes.Buffer
	w, _ := NewOggWriter(&buf, OggOptions{Channels: 1})
	p := tone(t, 3, 440)
	_ = w.WritePacket(0, p[0])
	_ = w.WritePacket(500, p[1]) // overlaps: moved to 960
	if w.Position() != 1920 {
		t.Fatalf("position %d", w.Position())
	}
	_ = w.WritePacket(1920+1000, p[2]) // 1000 samples late: 960 concealed, 40 lost to rounding
	if w.Position() != 1920+960+960 {
		t.Fatalf("position %d", w.Position())
	}
	if err := w.WritePacket(0, nil); !errors.Is(err, ErrInvalidPacket) {
		t.Fatalf("empty packet: %v", err)
	}
	if err := w.WritePacket(0, []byte{3 << 3}); err != nil {
		t.Fatalf("a one-byte packet is valid: %v", err)
	}
	if err := w.WritePacket(0, []byte{3}); !errors.Is(err, ErrInvalidPacket) {
		t.Fatalf("code 3 without a count: %v", err)
	}
	if _, err := NewOggWriter(&buf, OggOptions{Channels: 3}); err == nil {
		t.Fatal("3 channels")
	}
}

// A stream with nothing but headers, and a writer that cannot write in
// place, still ends with an EOS page that players accept.
func TestOggWriterEmptyAndNotSeekable(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.ogg")
	f, _ := os.Create(empty)
	w, _ := NewOggWriter(f, OggOptions{})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	pages := readOggFile(t, empty)
	if len(pages) != 3 || pages[2].flags&0x04 == 0 || len(pages[2].packets) != 0 {
		t.Fatalf("%d pages", len(pages))
	}
	var buf bytes.Buffer
	w, _ = NewOggWriter(&buf, OggOptions{})
	for i, p := range tone(t, 10, 440) {
		_ = w.WritePacket(int64(i*960), p)
	}
	_ = w.Flush()
	_ = w.Close()
	stream := filepath.Join(dir, "stream.ogg")
	_ = os.WriteFile(stream, buf.Bytes(), 0o644)
	pages = readOggFile(t, stream)
	if last := pages[len(pages)-1]; last.flags&0x04 == 0 || last.granule != 9600+312 {
		t.Fatalf("last page %+v", last)
	}
	if slices.ContainsFunc(pages[:len(pages)-1], func(p *oggPage) bool { return p.flags&0x04 != 0 }) {
		t.Fatal("EOS before the last page")
	}
	checkPlayable(t, stream)
}
