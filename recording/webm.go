package recording

import (
	"fmt"
	"sync"
	"time"

	"github.com/at-wat/ebml-go/mkvcore"
	"github.com/at-wat/ebml-go/webm"
)

// WebM tracks of a participant's audio-and-video recording.
const (
	webmAudioTrack = 1
	webmVideoTrack = 2
	// webmHoldMs is how long a frame waits for the other track's frames
	// so that blocks reach the file in time order.
	webmHoldMs = 500
	// Placeholder picture size: the header is written before the first
	// frame; players take the real size from the VP8 stream.
	webmWidth, webmHeight = 640, 480
)

// webmContainer writes Opus and VP8 into WebM with ebml-go: OpusHead in
// the audio track's CodecPrivate, CodecDelay 6.5 ms and SeekPreRoll 80 ms,
// a SeekHead, Cues and Duration (written at the end into space reserved at
// the start), clusters of at most 5 s that start at video keyframes.
// ebml-go's block sorter is left out (it silently drops late blocks): the
// container interleaves the two tracks itself. A frame waits until the
// other track has reached its time, or is not attached, or for 500 ms of
// wall time; a frame that comes after the file has moved past its time is
// dropped and reported (late).
type webmContainer struct {
	out     *bufferedFile
	writers [2]webm.BlockWriteCloser
	pending [2][]webmFrame
	on      [2]bool  // track attached
	seen    [2]int64 // latest timestamp received per track, ms (-1 before)
	last    int64    // timestamp of the last block written
	endMs   int64    // end of the media (last audio packet's end, or last frame)
	late    func(track string, ms int64)
}

type webmFrame struct {
	ms      int64
	key     bool
	arrival int64
	data    []byte
}

func newWebMContainer(f MediaFile, start time.Time, late func(track string, ms int64)) (container, error) {
	out := &bufferedFile{f: f}
	info := &webm.Info{TimecodeScale: 1000000, MuxingApp: "switchboard", WritingApp: "switchboard", DateUTC: start}
	tracks := []webm.TrackEntry{
		{
			Name: "audio", TrackNumber: webmAudioTrack, TrackUID: 1, CodecID: "A_OPUS", TrackType: 2,
			CodecPrivate: opusHead(2), CodecDelay: 6500000, SeekPreRoll: 80000000,
			Audio: &webm.Audio{SamplingFrequency: opusRate, Channels: 2},
		},
		{
			Name: "video", TrackNumber: webmVideoTrack, TrackUID: 2, CodecID: "V_VP8", TrackType: 1,
			Video: &webm.Video{PixelWidth: webmWidth, PixelHeight: webmHeight},
		},
	}
	c := &webmContainer{out: out, late: late, last: -1, seen: [2]int64{-1, -1}}
	ws, err := webm.NewSimpleBlockWriter(out, tracks,
		mkvcore.WithSegmentInfo(info),
		mkvcore.WithBlockInterceptor(nil),
		mkvcore.WithSeekHead(true),
		mkvcore.WithCues(64<<10),
		mkvcore.WithMinMaxClusterDuration(webmVideoTrack, 1000, 5000),
		mkvcore.WithOnErrorHandler(out.fail),
		mkvcore.WithOnFatalHandler(out.fail),
	)
	if err != nil {
		return nil, fmt.Errorf("recording: WebM: %w", err)
	}
	c.writers[0], c.writers[1] = ws[0], ws[1]
	return c, out.error()
}

func (c *webmContainer) active(track int, on bool) { c.on[track] = on }

func (c *webmContainer) writeAudio(pos int64, p []byte, arrival int64) error {
	n := opusSamples(p)
	if n == 0 || len(p) > maxOpusPacket {
		return ErrInvalidPacket
	}
	c.endMs = max(c.endMs, (pos+int64(n))*1000/opusRate)
	return c.add(0, webmFrame{ms: pos * 1000 / opusRate, key: true, arrival: arrival, data: append([]byte(nil), p...)})
}

func (c *webmContainer) writeVideo(ms int64, frame []byte, key bool, arrival int64) error {
	c.endMs = max(c.endMs, ms)
	return c.add(1, webmFrame{ms: ms, key: key, arrival: arrival, data: append([]byte(nil), frame...)})
}

// add queues a frame and writes the frames whose turn has come.
func (c *webmContainer) add(track int, f webmFrame) error {
	if f.ms < c.last {
		c.late([]string{KindAudio, KindVideo}[track], f.ms)
		return c.out.error()
	}
	c.pending[track] = append(c.pending[track], f)
	c.seen[track] = max(c.seen[track], f.ms)
	c.release(f.arrival, false)
	return c.out.error()
}

// release writes pending frames in time order while it is their turn (or
// all of them, at the end).
func (c *webmContainer) release(now int64, all bool) {
	for {
		a, v := c.pending[0], c.pending[1]
		var next int
		switch {
		case len(a) > 0 && len(v) > 0:
			if v[0].ms < a[0].ms {
				next = 1
			}
		case len(a) > 0 && (all || c.due(1, a[0], now)):
			next = 0
		case len(v) > 0 && (all || c.due(0, v[0], now)):
			next = 1
		default:
			return
		}
		f := c.pending[next][0]
		c.pending[next] = c.pending[next][1:]
		c.last = f.ms
		_, _ = c.writers[next].Write(f.key, f.ms, f.data)
	}
}

// due reports whether frame f may be written without waiting for the
// other track any longer.
func (c *webmContainer) due(other int, f webmFrame, now int64) bool {
	return !c.on[other] || c.seen[other] >= f.ms || now-f.arrival >= webmHoldMs*int64(time.Millisecond)
}

// flush writes the frames held past their time and the buffered bytes.
func (c *webmContainer) flush(now int64) error {
	c.release(now, false)
	return c.out.flush()
}

func (c *webmContainer) close() error {
	c.release(0, true)
	_ = c.writers[0].Close()
	_ = c.writers[1].Close() // the last Close waits for ebml-go to finish the file
	return c.out.error()
}

func (c *webmContainer) durationMs() int64 { return c.endMs }

// bufferedFile is what ebml-go writes to: writes are buffered (ebml-go
// makes several small writes per block) until flush; WriteAt (Cues and
// Duration, at the end) goes to the file. Write errors are kept, not
// returned: ebml-go stops its writer goroutine on an error and would then
// block every later Write, so the container reports them instead. Safe for
// concurrent use (ebml-go writes from its own goroutine).
type bufferedFile struct {
	mu  sync.Mutex
	f   MediaFile
	buf []byte
	err error
}

func (b *bufferedFile) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) >= 256<<10 {
		b.flushLocked()
	}
	return len(p), nil
}

func (b *bufferedFile) WriteAt(p []byte, off int64) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	if _, err := b.f.WriteAt(p, off); err != nil && b.err == nil {
		b.err = err
	}
	return len(p), nil
}

// Close flushes; the file itself is closed by its owner.
func (b *bufferedFile) Close() error { return b.flush() }

func (b *bufferedFile) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	return b.err
}

func (b *bufferedFile) flushLocked() {
	if len(b.buf) == 0 || b.err != nil {
		b.buf = b.buf[:0]
		return
	}
	if _, err := b.f.Write(b.buf); err != nil {
		b.err = err
	}
	b.buf = b.buf[:0]
}

func (b *bufferedFile) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = err
	}
}

func (b *bufferedFile) error() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}
