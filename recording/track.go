package recording

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
)

// TrackRecorder records one published track into its participant's file.
// Attach it to the track as a sink: WriteRTP copies the packet into a
// pooled buffer and queues it without ever blocking (when the queue is
// full the packet is dropped, and the gap is recorded in the metadata);
// a writer goroutine, which ends with the context given to StartTrack or
// with Close, puts packets back in order and writes them. WriteRTP may be
// called from one goroutine at a time (the track's reader); Close and
// WriteRTP are safe to call concurrently.
type TrackRecorder struct {
	pf       *participantFile
	kind     string
	keyframe func()
	queue    chan *packet
	pool     *sync.Pool
	clock    Clock
	closed   atomic.Bool
	overflow atomic.Int64
	cancel   context.CancelFunc
	done     chan struct{}
	tick     chan struct{}

	// Owned by the writer goroutine.
	order        reorder
	tclock       trackClock
	vp8          *vp8Assembler
	overflowSeen int64
	lastEnd      int64 // timeline position (track clock units) after the last packet
	ready        []inOrder
}

// WriteRTP queues a packet for the writer. It never blocks and keeps
// neither header nor payload. After Close it returns ErrClosed.
func (t *TrackRecorder) WriteRTP(h *rtp.Header, payload []byte) error {
	if t.closed.Load() {
		return ErrClosed
	}
	p := t.pool.Get().(*packet)
	p.set(h.SequenceNumber, h.Timestamp, h.Marker, t.clock.Now().UnixNano(), payload)
	select {
	case t.queue <- p:
	default:
		t.pool.Put(p)
		t.overflow.Add(1)
	}
	return nil
}

// Close stops the writer after it has written what is queued, and
// finishes the participant's file when no other track writes into it. It
// waits for the writer and is idempotent.
func (t *TrackRecorder) Close() error {
	t.closed.Store(true)
	t.cancel()
	<-t.done
	return nil
}

// RecordingID returns the id of the recording the track writes into.
func (t *TrackRecorder) RecordingID() string { return t.pf.rec.ID }

// run is the writer goroutine.
func (t *TrackRecorder) run(ctx context.Context, a *Active) {
	defer close(t.done)
	interval := a.r.cfg.FlushInterval
	var stopTimer func() bool
	arm := func() {
		stopTimer = t.clock.AfterFunc(interval, func() {
			select {
			case t.tick <- struct{}{}:
			default:
			}
		})
	}
	arm()
	for {
		select {
		case p := <-t.queue:
			t.handle(p)
		case <-t.tick:
			t.pf.flush(t.clock.Now().UnixNano(), interval)
			arm()
		case <-ctx.Done():
			t.closed.Store(true)
			stopTimer()
			for drained := false; !drained; {
				select {
				case p := <-t.queue:
					t.handle(p)
				default:
					drained = true
				}
			}
			t.ready = t.order.drain(t.ready[:0])
			t.writeReady()
			a.trackDone(t)
			return
		}
	}
}

// handle passes one packet through the reorder buffer and writes what comes out.
func (t *TrackRecorder) handle(p *packet) {
	t.ready = t.order.push(p, t.ready[:0])
	t.writeReady()
}

func (t *TrackRecorder) writeReady() {
	for _, r := range t.ready {
		t.write(r.p, r.lost)
		t.pool.Put(r.p)
	}
}

// write puts one in-order packet on the timeline and into the file.
func (t *TrackRecorder) write(p *packet, lost int) {
	pf := t.pf
	rate := int64(opusRate)
	if t.kind == KindVideo {
		rate = 90000
	}
	pos := t.tclock.position(p.ts, p.arrival, func() int64 {
		pf.mu.Lock()
		defer pf.mu.Unlock()
		if pf.t0 == 0 {
			return 0
		}
		return pf.startPos(p.arrival, rate)
	})
	if lost > 0 {
		t.recordGap(lost, pos, rate)
	}
	switch t.kind {
	case KindAudio:
		pf.write(p.arrival, func(c container) error { return c.writeAudio(pos, p.data, p.arrival) })
		if n := opusSamples(p.data); n > 0 {
			t.lastEnd = pos + int64(n)
		}
	case KindVideo:
		f, ok, wantKey := t.vp8.push(p, lost)
		if wantKey && t.keyframe != nil {
			t.keyframe()
		}
		if ok {
			ms := pos * 1000 / rate
			pf.write(p.arrival, func(c container) error { return c.writeVideo(ms, f.data, f.key, p.arrival) })
		}
		t.lastEnd = pos
	}
}

// recordGap notes lost packets before a packet at pos: dropped by the
// queue when the overflow counter moved, else lost on the way.
func (t *TrackRecorder) recordGap(lost int, pos, rate int64) {
	over := t.overflow.Load()
	dropped := min(int64(lost), over-t.overflowSeen)
	t.overflowSeen += dropped
	reason := GapPacketLoss
	if dropped > 0 {
		reason = GapQueueOverflow
	}
	g := Gap{Track: t.kind, AtMs: t.lastEnd * 1000 / rate, Packets: int64(lost), Reason: reason}
	if d := pos - t.lastEnd; d > 0 {
		g.DurationMs = d * 1000 / rate
	}
	t.pf.gap(g, int64(lost)-dropped, dropped)
}
