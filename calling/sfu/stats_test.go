package sfu

import (
	"errors"
	"fmt"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// failingWriter is a subscriber whose every write fails.
type failingWriter struct{}

func (failingWriter) WriteRTP(*rtp.Header, []byte) (int, error) { return 0, errors.New("closed") }
func (failingWriter) Write([]byte) (int, error)                 { return 0, errors.New("closed") }

// Stats counts the packets and payload bytes written to subscribers (a
// failed write is not counted), nothing while muted, and nothing once
// closed.
func TestStatsCountsForwardedPackets(t *testing.T) {
	tr := opusTrack(t)
	for i := range 2 {
		_, _ = tr.Bind(fakeCtx{id: fmt.Sprint(i), w: &countingWriter{}})
	}
	_, _ = tr.Bind(fakeCtx{id: "broken", w: failingWriter{}})
	pkt := benchPacket() // 80 bytes of payload
	for range 5 {
		tr.writePacket(pkt)
	}
	want := TrackStats{ForwardedPackets: 10, ForwardedBytes: 800}
	if got := tr.Stats(); got != want {
		t.Fatalf("after 5 packets to 2 working subscribers: %+v, want %+v", got, want)
	}
	tr.SetMuted(true)
	tr.writePacket(pkt)
	tr.SetMuted(false)
	tr.Close()
	tr.writePacket(pkt)
	if got := tr.Stats(); got != want {
		t.Fatalf("a muted or closed track counted: %+v, want %+v", got, want)
	}
	var sum TrackStats
	sum.Add(want)
	sum.Add(TrackStats{ForwardedPackets: 1, NACKs: 2, NACKedPackets: 3, Retransmitted: 4, SinkDropped: 5, ForwardedBytes: 6})
	if sum != (TrackStats{ForwardedPackets: 11, ForwardedBytes: 806, NACKs: 2, NACKedPackets: 3, Retransmitted: 4, SinkDropped: 5}) {
		t.Fatalf("Add: %+v", sum)
	}
}

// Stats counts each NACK a subscriber sends, the sequence numbers it asks
// for and the packets sent again: only those still cached.
func TestStatsCountsNACKs(t *testing.T) {
	tr := vp8Track(t, nil)
	w := &capturingWriter{}
	_, _ = tr.Bind(vp8Ctx{fakeCtx{id: "1", w: w}})
	for seq := uint16(1); seq <= 20; seq++ {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, SSRC: 7}, Payload: []byte{byte(seq)}}
		raw, _ := p.Marshal()
		tr.rtx.put(seq, raw)
		tr.writePacket(&p)
	}
	r := &rtcpSource{c: make(chan []byte, 2)}
	for _, seqs := range [][]uint16{{2, 3, 5}, {19, 40}} { // 40 was never sent
		raw, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 1234, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}})
		r.c <- raw
	}
	close(r.c)
	tr.ReadRTCP(r)
	got := tr.Stats()
	want := TrackStats{ForwardedPackets: 20, ForwardedBytes: 20, NACKs: 2, NACKedPackets: 5, Retransmitted: 4}
	if got != want {
		t.Fatalf("%+v, want %+v", got, want)
	}
}

// Counting adds no allocation to the NACK path's own.
func TestCountNACKAllocatesNothing(t *testing.T) {
	var c trackCounters
	nack := &rtcp.TransportLayerNack{Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{1, 2, 17, 300})}
	if a := testing.AllocsPerRun(100, func() { c.countNACK(nack, 1) }); a != 0 {
		t.Fatalf("%v allocations", a)
	}
	if got := c.nackedPkts.Load(); got != 101*4 {
		t.Fatalf("nacked packets %d, want %d", got, 101*4)
	}
}
