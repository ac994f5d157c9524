package sfu

import (
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// binding is a Track bound to one subscriber's sender (one m-line of one
// PeerConnection): where to write and with which SSRC and payload types.
// It is immutable once made; the bindings slice of a Track is replaced,
// never changed in place.
type binding struct {
	id          string
	ssrc        uint32
	payloadType uint8
	events      eventTypes // the subscriber's telephone-event payload types
	writer      webrtc.TrackLocalWriter
}

// retransmit answers the subscriber's NACK from the track's cache, writing
// each cached packet again to this subscriber only. buf and hdr are the
// caller's scratch (the subscriber's RTCP goroutine owns them). It returns
// how many packets were sent. Each cached packet is sent at most once per
// NACK, however often the NACK names it, so a NACK costs at most one
// cache's worth of packets.
func (b *binding) retransmit(cache *rtxCache, nack *rtcp.TransportLayerNack, buf []byte, hdr *rtp.Header) int {
	sent := 0
	var done [rtxCacheSize / 64]uint64 // the cache slots already answered
	for _, pair := range nack.Nacks {
		for _, seq := range pair.PacketList() {
			slot := seq % rtxCacheSize
			if done[slot/64]&(1<<(slot%64)) != 0 {
				continue // a slot holds one packet: this one was sent, or seq is not cached
			}
			n, ok := cache.get(seq, buf)
			if !ok {
				continue
			}
			done[slot/64] |= 1 << (slot % 64)
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
