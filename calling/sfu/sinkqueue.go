package sfu

import (
	"sync/atomic"

	"github.com/pion/rtp"
)

// Default lengths of a track's sink queue (TrackConfig.SinkQueue): a
// keyframe of high-resolution video is a burst of a hundred packets or
// more; audio comes one packet every 10 to 60 ms.
const (
	DefaultAudioSinkQueue = 32
	DefaultVideoSinkQueue = 128
)

// maxPacket is the largest packet a track reads (and the largest payload a
// sink is given).
const maxPacket = 1500

// sinkQueue hands packets from a track's reader goroutine to its sink
// goroutine without a lock or an allocation: a ring of preallocated slots
// and a channel of the indices of filled slots. The reader fills the slot
// of its next send, then tries to send its index; when the channel is full
// (the sinks are behind) the packet is dropped for the sinks, counted, and
// the same slot takes the next packet. The channel holds two indices fewer
// than there are slots, which keeps the reader off the slot the sink
// goroutine reads: the sink goroutine is done with the slot of send k
// before it receives send k+1, that receive happens before send
// k+len(slots)-1 completes (the channel's capacity later), and only the
// send after that fills the slot again.
type sinkQueue struct {
	slots   []sinkSlot
	ready   chan uint32
	next    uint32 // the slot of the reader's next send; reader only
	dropped atomic.Uint64
}

type sinkSlot struct {
	hdr  rtp.Header
	csrc [15]uint32
	n    int
	buf  [maxPacket]byte
}

func newSinkQueue(n int) *sinkQueue {
	n = max(n, 4)
	return &sinkQueue{slots: make([]sinkSlot, n), ready: make(chan uint32, n-2)}
}

// push copies the packet (the publisher's header h without extensions
// and padding, and its payload) into the next slot and queues it. Reader
// goroutine only.
func (q *sinkQueue) push(h *rtp.Header, payload []byte) {
	i := q.next
	s := &q.slots[i]
	s.hdr = *h
	s.hdr.CSRC = nil
	if len(h.CSRC) > 0 {
		s.hdr.CSRC = s.csrc[:copy(s.csrc[:], h.CSRC)]
	}
	s.hdr.Extension, s.hdr.Extensions, s.hdr.ExtensionProfile = false, nil, 0
	s.hdr.Padding, s.hdr.PaddingSize = false, 0
	s.n = copy(s.buf[:], payload)
	select {
	case q.ready <- i:
		q.next = (i + 1) % uint32(len(q.slots))
	default:
		q.dropped.Add(1)
	}
}

// run calls the sinks of t with each queued packet until t is closed.
// It is the track's sink goroutine.
func (q *sinkQueue) run(t *Track) {
	for {
		select {
		case <-t.ctx.Done():
			return
		case i := <-q.ready:
			s := &q.slots[i]
			for _, a := range *t.sinks.Load() {
				if a.write(&s.hdr, s.buf[:s.n]) {
					t.remove(a)
				}
			}
		}
	}
}
