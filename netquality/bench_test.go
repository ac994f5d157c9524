package netquality

import (
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// benchPacket is an 80-byte Opus packet (12-byte header, 68-byte payload).
func benchPacket(b *testing.B) []byte {
	b.Helper()
	raw, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 1, Timestamp: 960, SSRC: 0x1234}, Payload: make([]byte, 68)}).Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// The baseline: parsing the header of the same packet, which the SFU's
// reader does once per packet anyway.
func BenchmarkHeaderUnmarshal(b *testing.B) {
	raw := benchPacket(b)
	var h rtp.Header
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Unmarshal(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// The sink's per-packet cost, arrivals stamped by the real clock.
func BenchmarkRTPStatsWriteRTP(b *testing.B) {
	raw := benchPacket(b)
	var pkt rtp.Packet
	if err := pkt.Unmarshal(raw); err != nil {
		b.Fatal(err)
	}
	s := NewRTPStats(RTPStatsConfig{ClockRate: 48000, MimeType: "audio/opus"})
	b.ReportAllocs()
	for b.Loop() {
		pkt.SequenceNumber++
		pkt.Timestamp += 960
		_ = s.WriteRTP(&pkt.Header, pkt.Payload)
	}
}

// The same with the arrival time passed in (no clock read).
func BenchmarkRTPStatsWriteRTPAt(b *testing.B) {
	raw := benchPacket(b)
	var pkt rtp.Packet
	if err := pkt.Unmarshal(raw); err != nil {
		b.Fatal(err)
	}
	s := NewRTPStats(RTPStatsConfig{ClockRate: 48000, MimeType: "audio/opus"})
	at := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		pkt.SequenceNumber++
		pkt.Timestamp += 960
		at = at.Add(20 * time.Millisecond)
		_ = s.WriteRTPAt(&pkt.Header, pkt.Payload, at)
	}
}

// One Add to a full 5 s window (once a second per direction).
func BenchmarkEstimatorAdd(b *testing.B) {
	e, _ := NewEstimator(EstimatorConfig{})
	s := Sample{At: t0, Active: true, LossPercent: 1, JitterMs: 5, RTTMs: 40, LossWeight: 1, Packets: 50}
	b.ReportAllocs()
	for b.Loop() {
		s.At = s.At.Add(time.Second)
		e.Add(s)
	}
}

// One Tick over N participants, each with an RTPStats on the uplink and a
// constant source on the downlink.
func BenchmarkMonitorTick(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			m, _ := New(Config{})
			for i := range n {
				pid := fmt.Sprint("p-", i)
				m.Join(pid, "")
				_, _ = m.Attach(pid, Uplink, NewRTPStats(RTPStatsConfig{}))
				src := &source{}
				src.set(active(0, 30))
				_, _ = m.Attach(pid, Downlink, src)
			}
			at := t0
			b.ReportAllocs()
			for b.Loop() {
				at = at.Add(time.Second)
				m.Tick(at)
			}
		})
	}
}

var benchElapsed time.Duration

// A monotonic clock read alone, what WriteRTP adds to WriteRTPAt.
func BenchmarkClockRead(b *testing.B) {
	base := time.Now()
	for b.Loop() {
		benchElapsed = time.Since(base)
	}
}

// ForwardLog.Record alone: what the uplink sink adds for the downlinks.
func BenchmarkForwardLogRecord(b *testing.B) {
	var l ForwardLog
	seq := uint16(0)
	b.ReportAllocs()
	for b.Loop() {
		seq++
		l.Record(seq)
	}
}

// The uplink sink a Monitor hands out (AttachUplink): the forward log and
// RTPStats.WriteRTP, per packet.
func BenchmarkMonitorUplinkWrite(b *testing.B) {
	raw := benchPacket(b)
	var pkt rtp.Packet
	if err := pkt.Unmarshal(raw); err != nil {
		b.Fatal(err)
	}
	m, _ := New(Config{})
	m.Join("p", "")
	write, detach, err := m.AttachUplink("p", "p/mic", "audio/opus", 48000, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer detach()
	b.ReportAllocs()
	for b.Loop() {
		pkt.SequenceNumber++
		pkt.Timestamp += 960
		_ = write(&pkt.Header, pkt.Payload)
	}
}
