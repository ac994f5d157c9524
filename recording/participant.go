package recording

import (
	"context"
	"errors"
	"sync"
	"time"
)

// container is a media file being written: Ogg Opus or WebM.
type container interface {
	// writeAudio adds an Opus packet at pos (48 kHz samples from the
	// start) that arrived at arrival (Unix ns).
	writeAudio(pos int64, payload []byte, arrival int64) error
	// writeVideo adds a VP8 frame at ms (milliseconds from the start).
	writeVideo(ms int64, frame []byte, key bool, arrival int64) error
	// flush puts what is written on complete pages or blocks in the file
	// (the caller syncs); now is the time (Unix ns).
	flush(now int64) error
	// active says whether a track (0 audio, 1 video) is attached.
	active(track int, on bool)
	// close finishes the file.
	close() error
	durationMs() int64
}

// oggContainer is an audio-only recording.
type oggContainer struct{ w *OggWriter }

func (c *oggContainer) writeAudio(pos int64, p []byte, _ int64) error { return c.w.WritePacket(pos, p) }
func (c *oggContainer) writeVideo(int64, []byte, bool, int64) error   { return ErrUnsupportedCodec }
func (c *oggContainer) flush(int64) error                             { return c.w.Flush() }
func (c *oggContainer) active(int, bool)                              {}
func (c *oggContainer) close() error                                  { return c.w.Close() }
func (c *oggContainer) durationMs() int64                             { return c.w.Position() * 1000 / opusRate }

// Track kinds, as TrackInfo.Kind and Gap.Track name them.
const (
	KindAudio = "audio"
	KindVideo = "video"
)

// participantFile is one participant's recording: one file that the
// participant's audio track and (for AUDIO_AND_VIDEO) video track write
// into, each from its own writer goroutine. The file is created when the
// first packet arrives and finished when the last track leaves or the
// recording stops.
type participantFile struct {
	a    *Active
	mu   sync.Mutex
	rec  *Recording
	file MediaFile
	c    container
	t0   int64 // arrival of the first packet (Unix ns); 0 before
	// slots hold the audio and the video track writing into the file.
	slots     [2]*TrackRecorder
	finished  bool
	closing   bool // the last track left: finish is on its way
	failed    bool
	lastFlush int64
}

func slot(kind string) int {
	if kind == KindVideo {
		return 1
	}
	return 0
}

// attach takes the slot of tr's kind, if free.
func (pf *participantFile) attach(tr *TrackRecorder) bool {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	s := slot(tr.kind)
	if pf.finished || pf.closing || pf.slots[s] != nil {
		return false
	}
	pf.slots[s] = tr
	if pf.c != nil {
		pf.c.active(s, true)
	}
	return true
}

// detach frees tr's slot and reports whether no track is left.
func (pf *participantFile) detach(tr *TrackRecorder) bool {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	if s := slot(tr.kind); pf.slots[s] == tr {
		pf.slots[s] = nil
		if pf.c != nil {
			pf.c.active(s, false)
		}
	}
	pf.closing = pf.slots[0] == nil && pf.slots[1] == nil
	return pf.closing
}

// begin creates the file at the first packet; it reports false when the
// file cannot be written (failed, or finished). Called with mu held.
func (pf *participantFile) begin(arrival int64) bool {
	if pf.failed || pf.finished {
		return false
	}
	if pf.c != nil {
		return true
	}
	pf.t0 = arrival
	pf.rec.StartedAt = time.Unix(0, arrival).UTC()
	r := pf.a.r
	f, err := r.cfg.Storage.Create(context.Background(), pf.rec.clone())
	if err != nil {
		pf.fail(err)
		return false
	}
	f = r.counted(f)
	pf.file = f
	if pf.rec.Format == FormatWebM {
		pf.c, err = newWebMContainer(f, pf.rec.StartedAt, pf.lateLocked)
	} else {
		var w *OggWriter
		w, err = NewOggWriter(f, OggOptions{})
		pf.c = &oggContainer{w}
	}
	if err != nil {
		pf.c = nil
		pf.fail(err)
		return false
	}
	pf.lastFlush = arrival
	for i, t := range pf.slots {
		pf.c.active(i, t != nil)
	}
	return true
}

// fail marks the recording failed (the file may still hold something
// playable). Called with mu held.
func (pf *participantFile) fail(err error) {
	if pf.failed {
		return
	}
	pf.failed = true
	pf.rec.Status = StatusFailed
	pf.rec.Error = err.Error()
	pf.a.r.cfg.Logger.Error("recording failed", "recording", pf.rec.ID, "err", err)
	if pf.file != nil {
		pf.saveLocked()
	}
}

// startPos is where a track whose first packet arrived at arrival starts,
// in units of rate from the start of the file. Called with mu held.
func (pf *participantFile) startPos(arrival, rate int64) int64 {
	return max(0, (arrival-pf.t0)*rate/1e9)
}

// write runs fn on the container, with the file begun, under the lock.
func (pf *participantFile) write(arrival int64, fn func(c container) error) {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	if !pf.begin(arrival) {
		return
	}
	if err := fn(pf.c); err != nil && !errors.Is(err, ErrInvalidPacket) {
		pf.fail(err)
	}
}

// flush puts what was written on disk (a complete page or block, then
// fsync) when interval has passed since the last flush.
func (pf *participantFile) flush(now int64, interval time.Duration) {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	if pf.c == nil || pf.failed || pf.finished || now-pf.lastFlush < int64(interval)/2 {
		return
	}
	pf.lastFlush = now
	err := pf.c.flush(now)
	if err == nil {
		err = pf.file.Sync()
	}
	if err != nil {
		pf.fail(err)
	}
}

// gap records a stretch of a track with no media.
func (pf *participantFile) gap(g Gap, lost, dropped int64) {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	pf.rec.LostPackets += lost
	pf.rec.DroppedPackets += dropped
	if len(pf.rec.Gaps) < MaxGaps {
		pf.rec.Gaps = append(pf.rec.Gaps, g)
	}
}

// lateLocked records a frame the WebM container dropped because the file
// had moved past its time. Called with mu held.
func (pf *participantFile) lateLocked(track string, ms int64) {
	pf.rec.DroppedPackets++
	if len(pf.rec.Gaps) < MaxGaps {
		pf.rec.Gaps = append(pf.rec.Gaps, Gap{Track: track, AtMs: ms, Packets: 1, Reason: GapLate})
	}
}

// note records a track that is not recorded, and saves it when the file exists.
func (pf *participantFile) note(s string) {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	for _, u := range pf.rec.Unsupported {
		if u == s {
			return
		}
	}
	pf.rec.Unsupported = append(pf.rec.Unsupported, s)
	if pf.file != nil {
		pf.saveLocked()
	}
}

// finish closes the file and saves the final metadata. A participant file
// that never got a packet leaves nothing behind.
func (pf *participantFile) finish() *Recording {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	if pf.finished {
		return nil
	}
	pf.finished = true
	if pf.file == nil {
		return nil
	}
	if pf.c != nil {
		if err := pf.c.close(); err != nil {
			pf.fail(err)
		}
		pf.rec.DurationMs = pf.c.durationMs()
	}
	if err := pf.file.Sync(); err != nil {
		pf.fail(err)
	}
	if fi, err := pf.file.Stat(); err == nil {
		pf.rec.Bytes = fi.Size()
	}
	_ = pf.file.Close()
	end := pf.a.r.now()
	pf.rec.EndedAt = &end
	if pf.rec.Status == StatusRecording {
		pf.rec.Status = StatusCompleted
	}
	pf.saveLocked()
	return pf.rec.clone()
}

func (pf *participantFile) saveLocked() {
	if err := pf.a.r.cfg.Storage.Save(context.Background(), pf.rec.clone()); err != nil {
		pf.a.r.cfg.Logger.Error("recording: saving metadata", "recording", pf.rec.ID, "err", err)
	}
}
