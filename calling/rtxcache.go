package calling

import (
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

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

// retransmit answers a subscriber's NACK from the shared cache, writing
// each cached packet again to that subscriber only. buf is the caller's
// scratch buffer (the subscriber's RTCP goroutine owns it).
func (f *forwarder) retransmit(b *binding, nack *rtcp.TransportLayerNack, buf []byte, hdr *rtp.Header) int {
	if f.rtx == nil || b.paused.Load() || f.muted.Load() {
		return 0
	}
	sent := 0
	for _, pair := range nack.Nacks {
		for _, seq := range pair.PacketList() {
			n, ok := f.rtx.get(seq, buf)
			if !ok {
				continue
			}
			off, err := hdr.Unmarshal(buf[:n])
			if err != nil {
				continue
			}
			hdr.Extension, hdr.Extensions, hdr.ExtensionProfile = false, nil, 0
			hdr.SSRC, hdr.PayloadType = b.ssrc, b.payloadType
			end := n
			if hdr.Padding && n > off {
				end = n - int(buf[n-1])
			}
			hdr.Padding, hdr.PaddingSize = false, 0
			if end <= off {
				continue
			}
			if _, err := b.writer.WriteRTP(hdr, buf[off:end]); err == nil {
				sent++
			}
		}
	}
	return sent
}
