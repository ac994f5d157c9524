package sfu

import "sync"

// rtxCacheSize is how many recent packets a published video track keeps for
// retransmission (about 2 s of 720p video).
const rtxCacheSize = 512

// rtxCache is the one retransmission cache of a published video track,
// shared by all its subscribers (pion's default NACK responder would keep a
// 1024-packet buffer per subscriber per track). The forward goroutine
// writes; subscribers' RTCP goroutines read on NACK. A mutex guards each
// write, a copy of at most 1500 bytes: uncontended on the per-packet path
// (NACKs are rare), and cheaper than a lock-free slot scheme that would
// need an allocation or a reference count per packet.
type rtxCache struct {
	mu    sync.Mutex
	slots [rtxCacheSize]rtxSlot
}

type rtxSlot struct {
	seq   uint16
	valid bool
	n     int
	buf   [1500]byte
}

// put stores the raw packet of sequence number seq.
func (c *rtxCache) put(seq uint16, raw []byte) {
	if len(raw) > 1500 {
		return
	}
	s := &c.slots[seq%rtxCacheSize]
	c.mu.Lock()
	s.seq, s.valid, s.n = seq, true, copy(s.buf[:], raw)
	c.mu.Unlock()
}

// get copies the packet seq into dst and reports whether it was cached.
func (c *rtxCache) get(seq uint16, dst []byte) (int, bool) {
	s := &c.slots[seq%rtxCacheSize]
	c.mu.Lock()
	defer c.mu.Unlock()
	if !s.valid || s.seq != seq {
		return 0, false
	}
	return copy(dst, s.buf[:s.n]), true
}
