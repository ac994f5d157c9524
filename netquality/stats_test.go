package netquality

import (
	"testing"

	"github.com/pion/rtp"
)

// Stats counts the packets of each direction's samples and those lost:
// exactly the sequence gaps on an uplink measured by RTPStats, the samples'
// share on a downlink.
func TestMonitorStats(t *testing.T) {
	m, _ := newMonitor(t, Config{})
	m.Join("p-a", "alice")
	m.Join("p-b", "bob")
	up := NewRTPStats(RTPStatsConfig{})
	if _, err := m.Attach("p-a", Uplink, up); err != nil {
		t.Fatal(err)
	}
	for seq := uint16(65500); seq != 64; seq++ { // 100 packets across the wrap, 5 lost
		if seq%20 == 13 { // 65513, 65533, 13, 33, 53
			continue
		}
		_ = up.WriteRTPAt(&rtp.Header{SequenceNumber: seq, Timestamp: uint32(seq) * 960}, []byte{1}, sec(0))
	}
	m.Tick(sec(1))
	if err := m.Observe("p-b", Downlink, Sample{At: sec(1), Active: true, Packets: 50, LossPercent: 10}); err != nil {
		t.Fatal(err)
	}
	_ = m.Observe("p-b", Downlink, Sample{At: sec(1), Packets: 50, LossPercent: 50}) // inactive: not counted
	want := Stats{Participants: 2, Uplink: DirectionStats{Packets: 100, Lost: 5}, Downlink: DirectionStats{Packets: 50, Lost: 5}}
	if got := m.Stats(); got != want {
		t.Fatalf("%+v, want %+v", got, want)
	}
	m.Tick(sec(2)) // nothing new arrived: an inactive sample
	m.Remove("p-b")
	want.Participants = 1
	if got := m.Stats(); got != want {
		t.Fatalf("after an idle tick and a removal: %+v, want %+v", got, want)
	}
}
